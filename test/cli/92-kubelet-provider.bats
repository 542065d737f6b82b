#!/usr/bin/env bats
# `dockhand kubelet-provider`, the kubelet's exec credential provider, end to end: a
# CredentialProviderRequest on stdin, the response on stdout decoded here as strictly
# as the kubelet decodes it (unknown or duplicate fields, wrong types and other
# apiVersions rejected), for each apiVersion.  Credentials come from the file store,
# from ECR and Google tokens minted through the strict fakes (test/fake/aws-ecr.py
# through AWS_ENDPOINT_URL_ECR, test/fake/google.py through the key file's
# token_uri), and, for KEP-4412 service-account tokens, from the STS fake
# (AssumeRoleWithWebIdentity, through AWS_ENDPOINT_URL_STS) and Google's STS / IAM
# Credentials fake (through kubelet.gcp_sts_url / kubelet.gcp_iam_url).

# shellcheck disable=SC2030,SC2031  # each @test runs in its own subshell on purpose
# shellcheck disable=SC2154  # $stderr is set by bats' run --separate-stderr

bats_require_minimum_version 1.5.0

load lib/common

ACCOUNT=123456789012
AKID=AKIDDOCKHANDKUBELET1
EMAIL=puller@dockhand-test.iam.gserviceaccount.com
ECR_HOST=$ACCOUNT.dkr.ecr.us-east-1.amazonaws.com
ROLE=arn:aws:iam::$ACCOUNT:role/ecr-pull
WEB_AKID=ASIAWEBIDENTITY0001
GCP_AUD=//iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/p/providers/k8s
V1=credentialprovider.kubelet.k8s.io/v1

# start_fake NAME DIRFLAG SCRIPT ARGS...: a python fake writing its port to
# $BATS_FILE_TMPDIR/NAME/port; exports <NAME>_PORT and <NAME>_PID.
start_fake() {
    local name=$1 flag=$2 script=$3 dir="$BATS_FILE_TMPDIR/$1" var
    shift 3
    mkdir -p "$dir"
    python3 "$DH_ROOT/test/fake/$script" "$@" "$flag" "$dir" >"$dir/out.log" 2>&1 3>&- </dev/null &
    var=$(tr '[:lower:]-' '[:upper:]_' <<<"$name")
    export "${var}_PID=$!"
    for _ in $(seq 1 200); do
        [ -s "$dir/port" ] && { export "${var}_PORT=$(tr -d '\n' <"$dir/port")"; return 0; }
        sleep 0.05
    done
    cat "$dir/out.log" >&2
    return 1
}

setup_file() {
    dh_require python3 openssl jq curl
    export SK="sk-$RANDOM$RANDOM" ECR_PW="ecr-node-$RANDOM$RANDOM" ECR_SA_PW="ecr-sa-$RANDOM$RANDOM"
    export WEB_SK="web-sk-$RANDOM$RANDOM" WEB_TOK="web-session-$RANDOM$RANDOM"
    # A service-account token as the kubelet would send it (a JWT; the fakes compare it).
    export SA_TOKEN="eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6YXBwOmJ1aWxkZXIifQ.sig$RANDOM$RANDOM"
    # ECR for the node's own credentials (static keys in the environment) ...
    start_fake ecr-node --state-dir aws-ecr.py --access-key-id "$AKID" --secret-access-key "$SK" \
        --region us-east-1 --account "$ACCOUNT" --password "$ECR_PW" --expires-in 43200
    # ... and for the credentials STS hands out for the service-account token only.
    start_fake ecr-sa --state-dir aws-ecr.py --access-key-id "$WEB_AKID" \
        --secret-access-key "$WEB_SK" --session-token "$WEB_TOK" --region us-east-1 \
        --account "$ACCOUNT" --password "$ECR_SA_PW" --expires-in 43200
    start_fake sts --dir aws-sts.py --role "$ROLE" --role "arn:aws:iam::$ACCOUNT:role/other" \
        --web-token "$SA_TOKEN" --web-identity-key "$WEB_AKID:$WEB_SK:$WEB_TOK"
    local g="$BATS_FILE_TMPDIR/google-key"
    mkdir -p "$g"
    openssl genrsa -out "$g/key.pem" 2048 2>/dev/null
    openssl rsa -in "$g/key.pem" -pubout -out "$g/pub.pem" 2>/dev/null
    start_fake google --state-dir google.py --pubkey "$g/pub.pem" --kid k1 --email "$EMAIL" \
        --audience "$GCP_AUD" --subject-token "$SA_TOKEN"
    jq -n --rawfile k "$g/key.pem" --arg e "$EMAIL" \
        --arg u "http://127.0.0.1:$GOOGLE_PORT/token" \
        '{type:"service_account", project_id:"dockhand-test", private_key_id:"k1",
          private_key:$k, client_email:$e, token_uri:$u}' >"$g/sa.json"
    export SA_JSON="$g/sa.json"
}

teardown_file() {
    local pid
    for pid in "${ECR_NODE_PID:-}" "${ECR_SA_PID:-}" "${STS_PID:-}" "${GOOGLE_PID:-}"; do
        [ -n "$pid" ] || continue
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
}

setup() {
    dh_isolate
    [ -x "$DH_CLI" ] || { echo "not built: $DH_CLI" >&2; return 1; }
    export AWS_ACCESS_KEY_ID=$AKID AWS_SECRET_ACCESS_KEY=$SK AWS_EC2_METADATA_DISABLED=true
    export AWS_CONFIG_FILE="$BATS_TEST_TMPDIR/none" AWS_SHARED_CREDENTIALS_FILE="$BATS_TEST_TMPDIR/none"
    export AWS_ENDPOINT_URL_ECR="http://127.0.0.1:$ECR_NODE_PORT"
    export AWS_ENDPOINT_URL_STS="http://127.0.0.1:$STS_PORT"
    export GOOGLE_APPLICATION_CREDENTIALS=$SA_JSON
    unset AWS_SESSION_TOKEN AWS_PROFILE AWS_ENDPOINT_URL AWS_ECR_ROLE_ARN AWS_REGION
    curl -fsS -X POST "http://127.0.0.1:$ECR_NODE_PORT/_fake/reset" >/dev/null
    curl -fsS -X POST "http://127.0.0.1:$ECR_SA_PORT/_fake/reset" >/dev/null
    mkdir -p "$XDG_CONFIG_HOME/dockhand"
    cat >"$XDG_CONFIG_HOME/dockhand/config.yaml" <<EOF
kubelet:
  gcp_audience: "$GCP_AUD"
  gcp_sts_url: "http://127.0.0.1:$GOOGLE_PORT/sts"
  gcp_iam_url: "http://127.0.0.1:$GOOGLE_PORT"
EOF
}

# request VERSION IMAGE [TOKEN [ANNOTATIONS_JSON]]: a request as the kubelet encodes it.
request() {
    if [ $# -ge 3 ]; then
        jq -cn --arg v "$1" --arg i "$2" --arg t "$3" --argjson a "${4:-null}" \
            '{kind:"CredentialProviderRequest", apiVersion:$v, image:$i, serviceAccountToken:$t}
             + (if $a == null then {} else {serviceAccountAnnotations:$a} end)'
    else
        jq -cn --arg v "$1" --arg i "$2" '{kind:"CredentialProviderRequest", apiVersion:$v, image:$i}'
    fi
}

# decode VERSION < response: the kubelet's strict decoding of a CredentialProviderResponse
# (no unknown or duplicate fields, exact types, the same apiVersion, a known cacheKeyType,
# a Go duration); prints {"cacheKeyType", "cacheDuration": seconds or null, "auth"}.
decode() {
    python3 -c '
import json, re, sys
want = sys.argv[1]
def no_dups(pairs):
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        sys.exit("duplicate field in %r" % keys)
    return dict(pairs)
raw = sys.stdin.read()
if not raw.endswith("\n") or raw.count("\n") != 1:
    sys.exit("want exactly one line")
r = json.loads(raw, object_pairs_hook=no_dups)
known = {"kind", "apiVersion", "cacheKeyType", "cacheDuration", "auth"}
if set(r) - known:
    sys.exit("unknown fields %r" % sorted(set(r) - known))
if r.get("kind") != "CredentialProviderResponse":
    sys.exit("kind %r" % r.get("kind"))
if r.get("apiVersion") != want:
    sys.exit("apiVersion %r, want %r" % (r.get("apiVersion"), want))
if r.get("cacheKeyType") not in ("Image", "Registry", "Global"):
    sys.exit("cacheKeyType %r" % r.get("cacheKeyType"))
secs = None
if "cacheDuration" in r:
    d = r["cacheDuration"]
    if not isinstance(d, str):
        sys.exit("cacheDuration is not a string")
    units = {"ns": 1e-9, "us": 1e-6, "\u00b5s": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}
    if d == "0":
        secs = 0
    else:
        parts = re.findall(r"(\d+(?:\.\d+)?)(ns|us|\u00b5s|ms|s|m|h)", d)
        if not parts or "".join(a + b for a, b in parts) != d:
            sys.exit("cacheDuration %r is not a Go duration" % d)
        secs = sum(float(a) * units[b] for a, b in parts)
auth = r.get("auth")
if auth is None:
    auth = {}
if not isinstance(auth, dict):
    sys.exit("auth is not an object")
for k, v in auth.items():
    if not isinstance(v, dict) or set(v) - {"username", "password"}:
        sys.exit("auth[%r] has unknown fields" % k)
    if not all(isinstance(v.get(f, ""), str) for f in ("username", "password")):
        sys.exit("auth[%r] fields are not strings" % k)
print(json.dumps({"cacheKeyType": r["cacheKeyType"], "cacheDuration": secs, "auth": auth}))
' "$1"
}

# provide VERSION IMAGE [TOKEN [ANNOTATIONS]]: runs the provider; on success $output is the
# decoded response.  $status and $stderr as from bats' run.
provide() {
    local v=$1
    request "$@" >"$BATS_TEST_TMPDIR/request.json"
    run --separate-stderr "$DH_CLI" kubelet-provider <"$BATS_TEST_TMPDIR/request.json"
    [ "$status" -eq 0 ] || return 0
    printf '%s\n' "$output" >"$BATS_TEST_TMPDIR/response.json"
    output=$(decode "$v" <"$BATS_TEST_TMPDIR/response.json") || {
        echo "strict decoding failed: $(cat "$BATS_TEST_TMPDIR/response.json")" >&2
        status=99
    }
}

store_cred() { # URL USER SECRET
    jq -cn --arg u "$1" --arg n "$2" --arg s "$3" '{ServerURL: $u, Username: $n, Secret: $s}' |
        "$DH_HELPER" store
}

ecr_calls() { curl -fsS "http://127.0.0.1:$1/_fake/calls" | jq -r .calls; }
sts_calls() { jq -r ".$1 // 0" "$BATS_FILE_TMPDIR/sts/calls.json"; }
google_calls() { jq -r ".$1 // 0" "$BATS_FILE_TMPDIR/google/calls.json"; }

@test "a stored credential for a private host, for each apiVersion, decoded strictly" {
    store_cred registry.corp.example:5000 ci-bot 's3cr"et<&>'
    local v
    for v in "$V1" credentialprovider.kubelet.k8s.io/v1beta1 credentialprovider.kubelet.k8s.io/v1alpha1; do
        provide "$v" registry.corp.example:5000/team/app:1.2
        echo "$v: $status $output $stderr"
        [ "$status" -eq 0 ]
        [ "$(jq -r .cacheKeyType <<<"$output")" = Registry ]
        # no cacheDuration: the kubelet applies the provider's defaultCacheDuration
        [ "$(jq -r .cacheDuration <<<"$output")" = null ]
        [ "$(jq -c '.auth | keys' <<<"$output")" = '["registry.corp.example:5000"]' ]
        [ "$(jq -r '.auth[].username' <<<"$output")" = ci-bot ]
        [ "$(jq -r '.auth[].password' <<<"$output")" = 's3cr"et<&>' ]
        [ -z "$stderr" ]
    done
    # the exact bytes, once
    run "$DH_CLI" kubelet-provider <<<"$(request "$V1" registry.corp.example:5000/x)"
    [ "$output" = '{"kind":"CredentialProviderResponse","apiVersion":"credentialprovider.kubelet.k8s.io/v1","cacheKeyType":"Registry","auth":{"registry.corp.example:5000":{"username":"ci-bot","password":"s3cr\"et\u003c\u0026\u003e"}}}' ]
}

@test "kubelet.cache_duration sets cacheDuration for stored credentials" {
    store_cred registry.corp.example ci-bot pw
    printf 'kubelet:\n  cache_duration: 1h30m\n' >"$XDG_CONFIG_HOME/dockhand/config.yaml"
    provide "$V1" registry.corp.example/app
    [ "$status" -eq 0 ]
    grep -q '"cacheDuration":"1h30m0s"' "$BATS_TEST_TMPDIR/response.json"
    [ "$(jq -r .cacheDuration <<<"$output")" = 5400 ]
}

@test "no credentials: an empty auth map the kubelet does not cache, not an error" {
    provide "$V1" registry.other.example/app:1
    [ "$status" -eq 0 ]
    [ "$(jq -c .auth <<<"$output")" = '{}' ]
    [ "$(jq -r .cacheDuration <<<"$output")" = 0 ]
    # Docker Hub images, normalised or not, look up docker.io
    store_cred https://index.docker.io/v1/ hubuser hubpw
    provide "$V1" docker.io/library/nginx:latest
    [ "$(jq -c '.auth | keys' <<<"$output")" = '["docker.io"]' ]
    provide "$V1" nginx
    [ "$(jq -r '.auth["docker.io"].password' <<<"$output")" = hubpw ]
}

@test "ECR: a minted token with cacheDuration from its remaining life, then served from the cache with less" {
    provide "$V1" "$ECR_HOST/app:1"
    echo "$output $stderr"
    [ "$status" -eq 0 ]
    [ "$(jq -r ".auth[\"$ECR_HOST\"].username" <<<"$output")" = AWS ]
    [ "$(jq -r ".auth[\"$ECR_HOST\"].password" <<<"$output")" = "$ECR_PW" ]
    # 12 h token: half of what is left minus the 60 s margin = 5h59m0s (a second may pass)
    local d1 d2
    d1=$(jq -r .cacheDuration <<<"$output")
    [ "$d1" -le 21540 ] && [ "$d1" -ge 21530 ]
    grep -Eq '"cacheDuration":"5h5[89]m[0-9]+s"' "$BATS_TEST_TMPDIR/response.json"
    [ "$(ecr_calls "$ECR_NODE_PORT")" -eq 1 ]
    sleep 2.2
    provide credentialprovider.kubelet.k8s.io/v1beta1 "$ECR_HOST/other@sha256:0123"
    [ "$status" -eq 0 ]
    d2=$(jq -r .cacheDuration <<<"$output")
    [ "$d2" -lt "$d1" ]
    [ "$(ecr_calls "$ECR_NODE_PORT")" -eq 1 ]
    # the helper's get shares the same cache
    run "$DH_HELPER" get <<<"$ECR_HOST"
    [ "$(jq -r .Secret <<<"$output")" = "$ECR_PW" ]
    [ "$(ecr_calls "$ECR_NODE_PORT")" -eq 1 ]
}

@test "Artifact Registry: a Google token minted from the service-account key" {
    provide "$V1" europe-docker.pkg.dev/proj/repo/img:1
    echo "$output $stderr"
    [ "$status" -eq 0 ]
    [ "$(jq -r '.auth["europe-docker.pkg.dev"].username' <<<"$output")" = oauth2accesstoken ]
    [[ "$(jq -r '.auth["europe-docker.pkg.dev"].password' <<<"$output")" == ya29.* ]]
    local d
    d=$(jq -r .cacheDuration <<<"$output")
    [ "$d" -le 1739 ] && [ "$d" -ge 1730 ]
}

@test "KEP-4412 ECR: the service-account token is exchanged with STS for the annotated role" {
    export AWS_ENDPOINT_URL_ECR="http://127.0.0.1:$ECR_SA_PORT"
    local before
    before=$(sts_calls AssumeRoleWithWebIdentity)
    DOCKHAND_LOG_LEVEL=debug provide "$V1" "$ECR_HOST/app:1" "$SA_TOKEN" \
        "{\"eks.amazonaws.com/ecr-role-arn\":\"$ROLE\"}"
    echo "$output $stderr"
    [ "$status" -eq 0 ]
    [ "$(jq -r ".auth[\"$ECR_HOST\"].password" <<<"$output")" = "$ECR_SA_PW" ]
    [ "$(jq -r .cacheDuration <<<"$output")" = 0 ]
    grep -q '"cacheDuration":"0s"' "$BATS_TEST_TMPDIR/response.json"
    [ "$(sts_calls AssumeRoleWithWebIdentity)" -eq $((before + 1)) ]
    [ "$(jq -r .last.RoleArn "$BATS_FILE_TMPDIR/sts/calls.json")" = "$ROLE" ]
    [ "$(jq -r .last.RoleSessionName "$BATS_FILE_TMPDIR/sts/calls.json")" = dockhand-kubelet-provider ]
    # the ECR fake verified the signature made with the web-identity session credentials
    [ "$(ecr_calls "$ECR_SA_PORT")" -eq 1 ]
    [[ "$stderr" != *"$SA_TOKEN"* ]] && [[ "$stderr" != *"$WEB_SK"* ]]
    # not cached on disk: the next pull exchanges again
    provide "$V1" "$ECR_HOST/app:1" "$SA_TOKEN" "{\"eks.amazonaws.com/ecr-role-arn\":\"$ROLE\"}"
    [ "$status" -eq 0 ]
    [ "$(ecr_calls "$ECR_SA_PORT")" -eq 2 ]
    run grep -rqs "$ECR_SA_PW" "$XDG_CACHE_HOME"
    [ "$status" -ne 0 ]
}

@test "KEP-4412 ECR: the role from AWS_ECR_ROLE_ARN or kubelet.ecr_role_arn; errors otherwise" {
    export AWS_ENDPOINT_URL_ECR="http://127.0.0.1:$ECR_SA_PORT"
    # no annotation, no default: a clear error naming the annotation
    provide "$V1" "$ECR_HOST/app" "$SA_TOKEN"
    [ "$status" -eq 1 ]
    [ "${#stderr_lines[@]}" -eq 1 ]
    [[ "$stderr" == "dockhand: error: "*"eks.amazonaws.com/ecr-role-arn"* ]]
    [ -z "$output" ]
    AWS_ECR_ROLE_ARN=$ROLE provide "$V1" "$ECR_HOST/app" "$SA_TOKEN"
    [ "$status" -eq 0 ]
    [ "$(jq -r .last.RoleArn "$BATS_FILE_TMPDIR/sts/calls.json")" = "$ROLE" ]
    printf 'kubelet:\n  ecr_role_arn: arn:aws:iam::%s:role/other\n' "$ACCOUNT" \
        >"$XDG_CONFIG_HOME/dockhand/config.yaml"
    provide "$V1" "$ECR_HOST/app" "$SA_TOKEN" '{}'
    [ "$status" -eq 0 ]
    [ "$(jq -r .last.RoleArn "$BATS_FILE_TMPDIR/sts/calls.json")" = "arn:aws:iam::$ACCOUNT:role/other" ]
    # a role STS does not allow, a token it does not accept, a malformed ARN
    provide "$V1" "$ECR_HOST/app" "$SA_TOKEN" "{\"eks.amazonaws.com/ecr-role-arn\":\"arn:aws:iam::$ACCOUNT:role/nope\"}"
    [ "$status" -eq 1 ]
    [[ "$stderr" == *AccessDenied* ]]
    provide "$V1" "$ECR_HOST/app" "eyJ.forged.token" "{\"eks.amazonaws.com/ecr-role-arn\":\"$ROLE\"}"
    [ "$status" -eq 1 ]
    [ "${#stderr_lines[@]}" -eq 1 ]
    [[ "$stderr" == *InvalidIdentityToken* ]]
    [[ "$stderr" != *forged* ]]
    provide "$V1" "$ECR_HOST/app" "$SA_TOKEN" '{"eks.amazonaws.com/ecr-role-arn":"arn:aws:iam::1:role/x\nsecond line"}'
    [ "$status" -eq 1 ]
    [ "${#stderr_lines[@]}" -eq 1 ]
    [[ "$stderr" == *"is not an IAM role ARN"* ]]
}

@test "KEP-4412 Google: STS token exchange, then impersonation of the annotated account" {
    local sts iam
    sts=$(google_calls sts) iam=$(google_calls iam)
    provide "$V1" us-docker.pkg.dev/p/r/i "$SA_TOKEN"
    echo "$output $stderr"
    [ "$status" -eq 0 ]
    [ "$(jq -r '.auth["us-docker.pkg.dev"].username' <<<"$output")" = oauth2accesstoken ]
    [[ "$(jq -r '.auth["us-docker.pkg.dev"].password' <<<"$output")" == ya29.sts-* ]]
    [ "$(jq -r .cacheDuration <<<"$output")" = 0 ]
    [ "$(google_calls sts)" -eq $((sts + 1)) ] && [ "$(google_calls iam)" -eq "$iam" ]
    provide "$V1" gcr.io/p/i "$SA_TOKEN" "{\"iam.gke.io/gcp-service-account\":\"$EMAIL\"}"
    [ "$status" -eq 0 ]
    [[ "$(jq -r '.auth["gcr.io"].password' <<<"$output")" == ya29.imp-* ]]
    [ "$(google_calls iam)" -eq $((iam + 1)) ]
    # an account the fake does not know, an e-mail that would change the URL path
    provide "$V1" gcr.io/p/i "$SA_TOKEN" '{"iam.gke.io/gcp-service-account":"other@x.iam.gserviceaccount.com"}'
    [ "$status" -eq 1 ]
    [[ "$stderr" == *"HTTP 404"* ]]
    provide "$V1" gcr.io/p/i "$SA_TOKEN" '{"iam.gke.io/gcp-service-account":"a/../b@x.io"}'
    [ "$status" -eq 1 ]
    [[ "$stderr" == *"not a service account e-mail"* ]]
    # a token the pool does not accept
    provide "$V1" gcr.io/p/i "eyJ.wrong.token"
    [ "$status" -eq 1 ]
    [[ "$stderr" == *invalid_grant* ]] && [[ "$stderr" != *wrong.token* ]]
    # without an audience configured, the exchange is refused (no fall-back to the node)
    : >"$XDG_CONFIG_HOME/dockhand/config.yaml"
    provide "$V1" gcr.io/p/i "$SA_TOKEN"
    [ "$status" -eq 1 ]
    [[ "$stderr" == *"kubelet.gcp_audience"* ]]
}

@test "a service-account token for another registry: the node's stored credential answers" {
    store_cred registry.corp.example ci-bot pw
    provide "$V1" registry.corp.example/app "$SA_TOKEN"
    [ "$status" -eq 0 ]
    [ "$(jq -r '.auth["registry.corp.example"].password' <<<"$output")" = pw ]
}

@test "failures: exit 1, one line on stderr, nothing on stdout" {
    local bad
    for bad in '' 'not json' '[]' \
        '{"kind":"CredentialProviderRequest","apiVersion":"credentialprovider.kubelet.k8s.io/v1"}' \
        '{"kind":"CredentialProviderRequest","apiVersion":"credentialprovider.kubelet.k8s.io/v2","image":"a.io/b"}' \
        '{"kind":"Pod","apiVersion":"credentialprovider.kubelet.k8s.io/v1","image":"a.io/b"}' \
        '{"kind":"CredentialProviderRequest","apiVersion":"credentialprovider.kubelet.k8s.io/v1","image":"a.io/b","extra":1}' \
        '{"kind":"CredentialProviderRequest","apiVersion":"credentialprovider.kubelet.k8s.io/v1beta1","image":"a.io/b","serviceAccountToken":"t"}' \
        '{"kind":"CredentialProviderRequest","apiVersion":"credentialprovider.kubelet.k8s.io/v1","image":"bad_host.io/b"}'; do
        run --separate-stderr "$DH_CLI" kubelet-provider <<<"$bad"
        echo "[$bad] -> $status [$output] [$stderr]"
        [ "$status" -eq 1 ]
        [ -z "$output" ]
        [ "${#stderr_lines[@]}" -eq 1 ]
        [[ "$stderr" == "dockhand: error: "* ]]
    done
    # more than 1 MiB of input
    head -c $((1024 * 1024 + 10)) /dev/zero | tr '\0' ' ' >"$BATS_TEST_TMPDIR/big"
    run --separate-stderr "$DH_CLI" kubelet-provider <"$BATS_TEST_TMPDIR/big"
    [ "$status" -eq 1 ] && [[ "$stderr" == *"larger than"* ]]
    # arguments are not taken
    run --separate-stderr "$DH_CLI" kubelet-provider --verbose <<<"$(request "$V1" a.io/b)"
    [ "$status" -eq 1 ] && [[ "$stderr" == *usage* ]]
    # an upstream failure is an error (the kubelet logs it and retries at the next pull)
    echo 500 >"$BATS_FILE_TMPDIR/ecr-node/scenario"
    provide "$V1" "$ECR_HOST/app"
    rm -f "$BATS_FILE_TMPDIR/ecr-node/scenario"
    [ "$status" -eq 1 ]
    [ "${#stderr_lines[@]}" -eq 1 ]
    [[ "$stderr" == *"GetAuthorizationToken"*"500"* ]]
    # a broken config names the file and line
    printf 'kubelet:\n  nope: 1\n' >"$XDG_CONFIG_HOME/dockhand/config.yaml"
    provide "$V1" a.io/b
    [ "$status" -eq 1 ] && [[ "$stderr" == *"config.yaml:2: unknown key 'nope' in 'kubelet'"* ]]
}
