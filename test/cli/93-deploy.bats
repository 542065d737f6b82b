#!/usr/bin/env bats
# deploy/: hack/validate-deploy.py over every YAML file (they parse, carry the fields
# their kind needs, are listed by their kustomization, and reference only names the
# build defines), and the same validator failing on broken copies of the tree.

bats_require_minimum_version 1.5.0

load lib/common

V="$DH_ROOT/hack/validate-deploy.py"

setup() {
    dh_require python3
    [ -x "$DH_CLI" ] || { echo "dockhand not built: $DH_CLI" >&2; return 1; }
    python3 -c 'import yaml' || { echo "python3-yaml is missing (hack/install-deps.sh)" >&2; return 1; }
    COPY="$BATS_TEST_TMPDIR/deploy"
    cp -r "$DH_ROOT/deploy" "$COPY"
}

# broken FILE SED-EXPR WANT: the copy with FILE edited by SED-EXPR fails, naming WANT.
broken() {
    sed -i "$2" "$COPY/$1"
    ! cmp -s "$COPY/$1" "$DH_ROOT/deploy/$1" || { echo "the edit '$2' changed nothing" >&2; return 1; }
    run python3 "$V" --dockhand "$DH_CLI" "$COPY"
    echo "$output"
    [ "$status" -eq 1 ]
    [[ $output == *"$3"* ]]
}

@test "every YAML file under deploy/ is valid, and the kustomizations build" {
    run python3 "$V" --dockhand "$DH_CLI" "$DH_ROOT/deploy"
    echo "$output"
    [ "$status" -eq 0 ]
    [[ $output == *": ok" ]]
    # The base: the CronJob and its RBAC, in dockhand-system.
    run python3 "$V" --build "$DH_ROOT/deploy/base"
    [ "$status" -eq 0 ]
    [ "$(sort <<<"$output" | tr '\n' ' ')" = "ClusterRole dockhand-secret-sync ClusterRoleBinding dockhand-secret-sync ConfigMap dockhand-system/dockhand-agent-images ConfigMap dockhand-system/dockhand-config CronJob dockhand-system/dockhand-secret-sync DaemonSet dockhand-system/dockhand-agent Namespace dockhand-system ServiceAccount dockhand-system/dockhand-agent ServiceAccount dockhand-system/dockhand-secret-sync " ]
    # The Deployment variant replaces the CronJob.
    run python3 "$V" --build "$DH_ROOT/deploy/variants/deployment"
    [ "$status" -eq 0 ]
    [[ $output == *"Deployment dockhand-system/dockhand-secret-sync"* ]]
    [[ $output != *CronJob* ]]
}

@test "the CronJob runs secret sync --once; the Deployment runs the loop" {
    run python3 - "$DH_ROOT/deploy" <<'EOF'
import sys, yaml
d = sys.argv[1]
cj = yaml.safe_load(open(d + "/base/cronjob.yaml"))
c = cj["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["command"]
assert c[:3] == ["dockhand", "secret", "sync"] and "--once" in c, c
dep = yaml.safe_load(open(d + "/variants/deployment/deployment.yaml"))
c = dep["spec"]["template"]["spec"]["containers"][0]["command"]
assert c[:3] == ["dockhand", "secret", "sync"] and "--once" not in c, c
print("ok")
EOF
    echo "$output"
    [ "$status" -eq 0 ] && [ "$output" = ok ]
}

@test "a file that does not parse fails" {
    broken base/configmap.yaml 's/^  name: dockhand-config/  name: [dockhand-config/' "configmap.yaml: cannot parse"
}

@test "a missing image, command, metadata.name or schedule fails" {
    broken base/cronjob.yaml '/^              image: dockhand/d' "image is required"
    cp "$DH_ROOT/deploy/base/cronjob.yaml" "$COPY/base/cronjob.yaml"
    broken variants/deployment/deployment.yaml '/^          command:/,/^            - --max-interval=1h/d' "command is required"
    cp -r "$DH_ROOT/deploy/." "$COPY/"
    broken base/serviceaccount.yaml 's/^  name: dockhand-secret-sync/  labels: {}/' "metadata.name is required"
    cp -r "$DH_ROOT/deploy/." "$COPY/"
    broken base/cronjob.yaml 's|^  schedule: .*|  schedule: "every 15 minutes"|' "spec.schedule must be a five-field cron expression"
}

@test "a dangling serviceAccountName, roleRef, subject or ConfigMap volume fails" {
    broken base/cronjob.yaml 's/serviceAccountName: dockhand-secret-sync/serviceAccountName: dockhand-sync/' "serviceAccountName 'dockhand-sync' is not defined in the build"
    cp -r "$DH_ROOT/deploy/." "$COPY/"
    broken base/clusterrolebinding.yaml '/^  kind: ClusterRole/{n;s/name: dockhand-secret-sync/name: dockhand-secret-syncer/}' "roleRef ClusterRole 'dockhand-secret-syncer' is not defined in the build"
    cp -r "$DH_ROOT/deploy/." "$COPY/"
    broken base/clusterrolebinding.yaml '/^    name: dockhand-secret-sync/s/sync/sink/' "subject ServiceAccount 'dockhand-system/dockhand-secret-sink' is not defined"
    cp -r "$DH_ROOT/deploy/." "$COPY/"
    broken variants/deployment/deployment.yaml 's/^            name: dockhand-config/            name: dockhand-settings/' "volume 'config': ConfigMap 'dockhand-settings' is not defined in the build"
}

@test "kustomization resources must exist, and every manifest must be listed" {
    broken base/kustomization.yaml 's/  - configmap.yaml/  - config-map.yaml/' "resource 'config-map.yaml' does not exist"
    cp -r "$DH_ROOT/deploy/." "$COPY/"
    cp "$COPY/base/configmap.yaml" "$COPY/base/extra.yaml"
    run python3 "$V" --dockhand "$DH_CLI" "$COPY"
    [ "$status" -eq 1 ]
    [[ $output == *"extra.yaml: is not listed in"* ]]
}

@test "RBAC: wildcards, a Secret name the rules do not allow, and missing READMEs fail" {
    broken base/clusterrole.yaml 's/verbs: \["list", "watch"\]/verbs: ["*"]/' "verbs: '*' is not least privilege"
    cp -r "$DH_ROOT/deploy/." "$COPY/"
    broken base/cronjob.yaml 's/--name=dockhand-pull/--name=regcred/' "may not patch Secret 'regcred'"
    cp -r "$DH_ROOT/deploy/." "$COPY/"
    rm "$COPY/variants/README.md"
    run python3 "$V" --dockhand "$DH_CLI" "$COPY"
    [ "$status" -eq 1 ]
    [[ $output == *"variants: every folder needs a README.md"* ]]
}

@test "security: root, a writable root filesystem or no memory limit fail" {
    broken base/cronjob.yaml 's/readOnlyRootFilesystem: true/readOnlyRootFilesystem: false/' "readOnlyRootFilesystem: true is required"
    cp -r "$DH_ROOT/deploy/." "$COPY/"
    broken variants/deployment/deployment.yaml 's/runAsNonRoot: true/runAsNonRoot: false/' "runAsNonRoot: true is required"
    cp -r "$DH_ROOT/deploy/." "$COPY/"
    broken base/cronjob.yaml '/^                limits:/,/^                  memory: 64Mi/d' "resources.requests.memory and resources.limits.memory are required"
}

@test "node files: a CredentialProviderConfig and a dockhand config.yaml are checked, not taken for API objects" {
    mkdir "$COPY/node"
    echo "# node files" >"$COPY/node/README.md"
    cat >"$COPY/node/credential-provider-config.yaml" <<'EOF'
apiVersion: kubelet.config.k8s.io/v1
kind: CredentialProviderConfig
providers:
  - name: dockhand
    args: ["kubelet-provider"]
    apiVersion: credentialprovider.kubelet.k8s.io/v1
    matchImages: ["*.dkr.ecr.*.amazonaws.com"]
    defaultCacheDuration: "5m"
EOF
    printf 'store: dir:/etc/dockhand/pull-secrets\nlog:\n  level: info\n' >"$COPY/node/config.yaml"
    run python3 "$V" --dockhand "$DH_CLI" "$COPY"
    echo "$output"
    [ "$status" -eq 0 ]
    sed -i 's/matchImages:/matchImagez:/' "$COPY/node/credential-provider-config.yaml"
    run python3 "$V" --dockhand "$DH_CLI" "$COPY"
    echo "$output"
    [ "$status" -eq 1 ]
    [[ $output == *"matchImages: a non-empty list of image patterns is required"* ]]
    sed -i 's/matchImagez:/matchImages:/' "$COPY/node/credential-provider-config.yaml"
    sed -i 's/^log:/lag:/' "$COPY/node/config.yaml"
    run python3 "$V" --dockhand "$DH_CLI" "$COPY"
    echo "$output"
    [ "$status" -eq 1 ]
    [[ $output == *"config.yaml:2: unknown key 'lag'"* ]]
}
