#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Validates the Kubernetes manifests under deploy/ (python3 + PyYAML, no cluster).

    hack/validate-deploy.py [--dockhand BIN] [DIR]
                                             default: deploy/ beside this script
    hack/validate-deploy.py --build KDIR     print the objects KDIR's kustomization
                                             builds, one "Kind namespace/name" a line

Checks, printing one "path: problem" line each and exiting 1 when there is any:
  * every *.yaml / *.yml file parses (all its documents), and every folder has a README.md;
  * every document is a kustomization (apiVersion kustomize.config.k8s.io/v1beta1, kind
    Kustomization, resources/patches that exist), a node configuration file
    (kubelet.config.k8s.io CredentialProviderConfig: providers with name, apiVersion,
    matchImages and defaultCacheDuration), a dockhand config.yaml (a document with no
    apiVersion and no kind: loaded by the built dockhand, BIN or build/bin/dockhand, with
    DOCKHAND_CONFIG, so its own schema check names any bad key and line), or a Kubernetes
    object with apiVersion,
    kind and metadata.name, plus the fields its kind requires (containers with name,
    image and command; CronJob schedule and restartPolicy; Deployment selector matching
    its template; RBAC rules with apiGroups, resources and verbs, and no "*");
  * a manifest beside a kustomization.yaml is listed by it (resources or patches);
  * each kustomization is built here (resources, namespace, images, patches of the
    `$patch: delete` form) and every name a built object references exists in the
    build: serviceAccountName, configMap/secret volumes and env references (unless
    optional), volumeMounts, roleRef, subjects, metadata.namespace (or kube-system,
    default, kube-public);
  * workloads run as non-root with a read-only root filesystem, no privilege
    escalation, and memory requests and limits, unless annotated
    dockhand.io/privileged-reason: "<why>";
  * `dockhand secret sync --name N` is allowed by the Secret rules bound to its
    ServiceAccount (resourceNames, when the rules use them).
"""
import os
import re
import subprocess
import sys
import tempfile

import yaml

KUSTOMIZE_API = "kustomize.config.k8s.io/v1beta1"
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition",
                  "PriorityClass", "StorageClass", "RuntimeClass"}
WORKLOADS = {"Deployment", "DaemonSet", "StatefulSet", "Job", "CronJob", "Pod"}
KNOWN_NAMESPACES = {"kube-system", "default", "kube-public"}
CRON_FIELD = re.compile(r"^(\*|\d+(-\d+)?)(/\d+)?(,(\*|\d+(-\d+)?)(/\d+)?)*$")

ERRORS = []
DOCKHAND = None  # the built dockhand, for config files
PROVIDER_APIS = {"credentialprovider.kubelet.k8s.io/v1", "credentialprovider.kubelet.k8s.io/v1beta1",
                 "credentialprovider.kubelet.k8s.io/v1alpha1"}


def err(where, msg):
    ERRORS.append("%s: %s" % (where, msg))


def load_docs(path):
    try:
        with open(path) as f:
            return [d for d in yaml.safe_load_all(f) if d is not None]
    except (yaml.YAMLError, OSError, UnicodeDecodeError) as e:
        err(path, "cannot parse: %s" % str(e).replace("\n", " "))
        return None


def is_kustomization(doc):
    return isinstance(doc, dict) and doc.get("kind") == "Kustomization"


def get(d, *keys):
    for k in keys:
        if not isinstance(d, dict):
            return None
        d = d.get(k)
    return d


# --- per-object checks ------------------------------------------------------------------

def pod_spec(obj):
    kind = obj.get("kind")
    if kind == "Pod":
        return obj.get("spec")
    if kind == "CronJob":
        return get(obj, "spec", "jobTemplate", "spec", "template", "spec")
    return get(obj, "spec", "template", "spec")


def check_rules(where, rules):
    if not isinstance(rules, list) or not rules:
        err(where, "rules: a role needs at least one rule")
        return
    for i, r in enumerate(rules):
        w = "%s rules[%d]" % (where, i)
        if not isinstance(r, dict):
            err(w, "must be a mapping")
            continue
        if "nonResourceURLs" in r:
            continue
        for key in ("apiGroups", "resources", "verbs"):
            v = r.get(key)
            if not isinstance(v, list) or not v or not all(isinstance(x, str) for x in v):
                err(w, "%s: a non-empty list of strings is required" % key)
            elif "*" in v:
                err(w, "%s: '*' is not least privilege" % key)


def check_containers(where, spec, privileged):
    containers = spec.get("containers")
    if not isinstance(containers, list) or not containers:
        err(where, "spec.containers: at least one container is required")
        return
    volumes = {v.get("name") for v in spec.get("volumes") or [] if isinstance(v, dict)}
    for i, c in enumerate(containers + (spec.get("initContainers") or [])):
        w = "%s container[%d]" % (where, i)
        if not isinstance(c, dict):
            err(w, "must be a mapping")
            continue
        for key in ("name", "image"):
            if not isinstance(c.get(key), str) or not c.get(key):
                err(w, "%s is required" % key)
        if not isinstance(c.get("command"), list) or not c.get("command"):
            err(w, "command is required (the image has no useful entrypoint of its own)")
        for m in c.get("volumeMounts") or []:
            if m.get("name") not in volumes:
                err(w, "volumeMount '%s' names no volume" % m.get("name"))
            if not m.get("mountPath"):
                err(w, "volumeMount '%s' has no mountPath" % m.get("name"))
        if privileged:
            continue
        sc = c.get("securityContext") or {}
        psc = spec.get("securityContext") or {}
        if not (sc.get("runAsNonRoot") or psc.get("runAsNonRoot")):
            err(w, "runAsNonRoot: true is required (pod or container securityContext)")
        if sc.get("readOnlyRootFilesystem") is not True:
            err(w, "securityContext.readOnlyRootFilesystem: true is required")
        if sc.get("allowPrivilegeEscalation") is not False:
            err(w, "securityContext.allowPrivilegeEscalation: false is required")
        res = c.get("resources") or {}
        if not get(res, "requests", "memory") or not get(res, "limits", "memory"):
            err(w, "resources.requests.memory and resources.limits.memory are required")


def check_object(where, obj):
    if not isinstance(obj, dict):
        err(where, "a manifest must be a mapping")
        return False
    ok = True
    for key in ("apiVersion", "kind"):
        if not isinstance(obj.get(key), str) or not obj.get(key):
            err(where, "%s is required" % key)
            ok = False
    name = get(obj, "metadata", "name")
    if not isinstance(name, str) or not name:
        err(where, "metadata.name is required")
        ok = False
    if not ok:
        return False
    where = "%s (%s %s)" % (where, obj["kind"], name)
    kind = obj["kind"]
    if kind in ("ClusterRole", "Role"):
        check_rules(where, obj.get("rules"))
    if kind in ("ClusterRoleBinding", "RoleBinding"):
        rr = obj.get("roleRef") or {}
        if rr.get("apiGroup") != "rbac.authorization.k8s.io" or rr.get("kind") not in (
                "ClusterRole", "Role") or not rr.get("name"):
            err(where, "roleRef needs apiGroup rbac.authorization.k8s.io, kind and name")
        subs = obj.get("subjects")
        if not isinstance(subs, list) or not subs:
            err(where, "subjects: at least one subject is required")
        for s in subs or []:
            if not isinstance(s, dict) or not s.get("kind") or not s.get("name"):
                err(where, "each subject needs kind and name")
            elif s["kind"] == "ServiceAccount" and not s.get("namespace"):
                err(where, "subject ServiceAccount '%s' needs a namespace" % s["name"])
    if kind == "ConfigMap" and not isinstance(obj.get("data", {}), dict):
        err(where, "data must be a mapping")
    if kind == "CronJob":
        sched = get(obj, "spec", "schedule")
        fields = sched.split() if isinstance(sched, str) else []
        if len(fields) != 5 or not all(CRON_FIELD.match(f) for f in fields):
            err(where, "spec.schedule must be a five-field cron expression (got %r)" % sched)
        if not isinstance(get(obj, "spec", "jobTemplate", "spec", "template"), dict):
            err(where, "spec.jobTemplate.spec.template is required")
    if kind in ("Deployment", "DaemonSet", "StatefulSet"):
        sel = get(obj, "spec", "selector", "matchLabels")
        labels = get(obj, "spec", "template", "metadata", "labels") or {}
        if not isinstance(sel, dict) or not sel:
            err(where, "spec.selector.matchLabels is required")
        elif any(labels.get(k) != v for k, v in sel.items()):
            err(where, "spec.selector.matchLabels does not match the template's labels")
    if kind in WORKLOADS:
        spec = pod_spec(obj)
        if not isinstance(spec, dict):
            err(where, "no pod template spec")
            return True
        rp = spec.get("restartPolicy")
        if kind in ("Job", "CronJob") and rp not in ("OnFailure", "Never"):
            err(where, "restartPolicy must be OnFailure or Never for a %s" % kind)
        reason = get(obj, "metadata", "annotations", "dockhand.io/privileged-reason")
        check_containers(where, spec, bool(reason))
    return True


# --- files that are not API objects ------------------------------------------------------

def check_credential_provider_config(where, doc):
    if not str(doc.get("apiVersion", "")).startswith("kubelet.config.k8s.io/"):
        err(where, "CredentialProviderConfig needs apiVersion kubelet.config.k8s.io/v1")
    provs = doc.get("providers")
    if not isinstance(provs, list) or not provs:
        err(where, "providers: at least one provider is required")
        return
    for i, p in enumerate(provs):
        w = "%s providers[%d]" % (where, i)
        if not isinstance(p, dict):
            err(w, "must be a mapping")
            continue
        if not isinstance(p.get("name"), str) or not p.get("name") or "/" in p["name"]:
            err(w, "name (the plugin binary's name) is required")
        if p.get("apiVersion") not in PROVIDER_APIS:
            err(w, "apiVersion must be one of %s" % ", ".join(sorted(PROVIDER_APIS)))
        mi = p.get("matchImages")
        if not isinstance(mi, list) or not mi or not all(isinstance(x, str) and x for x in mi):
            err(w, "matchImages: a non-empty list of image patterns is required")
        if not isinstance(p.get("defaultCacheDuration"), str):
            err(w, "defaultCacheDuration is required")


def check_dockhand_config(path):
    """A dockhand config.yaml: loaded by dockhand itself (its schema names file and line)."""
    if not DOCKHAND or not os.access(DOCKHAND, os.X_OK):
        print("%s: note: parsed only; build dockhand (or pass --dockhand) to check it as a "
              "dockhand config" % path, file=sys.stderr)
        return
    with tempfile.TemporaryDirectory() as home:
        env = {"PATH": "/usr/bin:/bin", "HOME": home, "XDG_CONFIG_HOME": home,
               "XDG_CACHE_HOME": home, "XDG_DATA_HOME": home,
               "DOCKHAND_CONFIG": os.path.abspath(path)}
        r = subprocess.run([DOCKHAND, "token", "validate-deploy.invalid"], env=env,
                           capture_output=True, text=True, timeout=30)
    out = (r.stdout + r.stderr).strip()
    if "is not a registry dockhand mints tokens for" not in out:
        err(path, "not a valid dockhand config: %s" % out.replace("dockhand: error: ", ""))


def check_doc(where, doc):
    """Any document that is not a kustomization."""
    if isinstance(doc, dict) and "apiVersion" not in doc and "kind" not in doc:
        check_dockhand_config(where)
    elif isinstance(doc, dict) and doc.get("kind") == "CredentialProviderConfig":
        check_credential_provider_config(where, doc)
    else:
        check_object(where, doc)


# --- kustomize (the subset deploy/ uses) --------------------------------------------------

def kustomization_file(d):
    for n in ("kustomization.yaml", "kustomization.yml", "Kustomization"):
        p = os.path.join(d, n)
        if os.path.isfile(p):
            return p
    return None


def build(kdir, seen=()):
    """The objects (dicts) kdir's kustomization builds; problems go to ERRORS."""
    kfile = kustomization_file(kdir)
    if kfile is None:
        err(kdir, "no kustomization.yaml")
        return []
    if os.path.realpath(kdir) in seen:
        err(kfile, "resources form a cycle")
        return []
    docs = load_docs(kfile)
    if not docs:
        return []
    k = docs[0]
    if not is_kustomization(k) or k.get("apiVersion") != KUSTOMIZE_API:
        err(kfile, "must be apiVersion %s, kind Kustomization" % KUSTOMIZE_API)
        return []
    out = []
    for r in k.get("resources") or []:
        p = os.path.normpath(os.path.join(kdir, r))
        if os.path.isdir(p):
            out += build(p, seen + (os.path.realpath(kdir),))
        elif os.path.isfile(p):
            for d in load_docs(p) or []:
                if check_object(p, d):
                    out.append(dict(d, _file=p))
        else:
            err(kfile, "resource '%s' does not exist" % r)
    for i, patch in enumerate(k.get("patches") or []):
        body = None
        if isinstance(patch, dict) and patch.get("path"):
            p = os.path.join(kdir, patch["path"])
            if not os.path.isfile(p):
                err(kfile, "patch '%s' does not exist" % patch["path"])
                continue
            docs = load_docs(p) or []
            body = docs[0] if docs else None
        elif isinstance(patch, dict) and isinstance(patch.get("patch"), str):
            body = yaml.safe_load(patch["patch"])
        if not isinstance(body, dict) or body.get("$patch") != "delete":
            err(kfile, "patches[%d]: only `$patch: delete` patches are understood here" % i)
            continue
        key = (body.get("kind"), get(body, "metadata", "name"))
        before = len(out)
        out = [o for o in out if (o.get("kind"), get(o, "metadata", "name")) != key]
        if len(out) == before:
            err(kfile, "patches[%d]: deletes %s '%s', which the resources do not hold"
                % (i, key[0], key[1]))
    ns = k.get("namespace")
    if ns:
        for o in out:
            if o.get("kind") not in CLUSTER_SCOPED:
                o.setdefault("metadata", {})["namespace"] = ns
            for s in o.get("subjects") or []:
                if isinstance(s, dict) and s.get("kind") == "ServiceAccount":
                    s["namespace"] = ns
    for img in k.get("images") or []:
        for o in out:
            spec = pod_spec(o) if o.get("kind") in WORKLOADS else None
            for c in (spec or {}).get("containers") or []:
                if c.get("image") == img.get("name"):
                    c["image"] = "%s:%s" % (img.get("newName", img["name"]),
                                            img.get("newTag", "latest"))
    return out


def check_build(kdir, objs):
    where = kustomization_file(kdir)
    names = {}
    for o in objs:
        ns = get(o, "metadata", "namespace") if o["kind"] not in CLUSTER_SCOPED else None
        key = (o["kind"], ns, o["metadata"]["name"])
        if key in names:
            err(where, "%s '%s' is defined twice (%s, %s)" % (o["kind"], o["metadata"]["name"],
                                                              names[key], o["_file"]))
        names[key] = o["_file"]
    namespaces = {n for (k, _, n) in names if k == "Namespace"}

    def has(kind, ns, name):
        return (kind, ns, name) in names

    for o in objs:
        w = "%s: %s '%s'" % (where, o["kind"], o["metadata"]["name"])
        ns = get(o, "metadata", "namespace")
        if o["kind"] not in CLUSTER_SCOPED:
            if not ns:
                err(w, "has no namespace (set metadata.namespace or the kustomization's)")
            elif ns not in namespaces and ns not in KNOWN_NAMESPACES:
                err(w, "namespace '%s' is not defined in the build" % ns)
        if o["kind"] in ("ClusterRoleBinding", "RoleBinding"):
            rr = o.get("roleRef") or {}
            rns = None if rr.get("kind") == "ClusterRole" else ns
            if not has(rr.get("kind"), rns, rr.get("name")) and \
                    not str(rr.get("name", "")).startswith("system:"):
                err(w, "roleRef %s '%s' is not defined in the build"
                    % (rr.get("kind"), rr.get("name")))
            for s in o.get("subjects") or []:
                if s.get("kind") == "ServiceAccount" and not has("ServiceAccount",
                                                                 s.get("namespace"), s["name"]):
                    err(w, "subject ServiceAccount '%s/%s' is not defined in the build"
                        % (s.get("namespace"), s["name"]))
        if o["kind"] not in WORKLOADS:
            continue
        spec = pod_spec(o) or {}
        sa = spec.get("serviceAccountName", spec.get("serviceAccount"))
        if sa and sa != "default" and not has("ServiceAccount", ns, sa):
            err(w, "serviceAccountName '%s' is not defined in the build" % sa)
        for v in spec.get("volumes") or []:
            for key, kind, field in (("configMap", "ConfigMap", "name"),
                                     ("secret", "Secret", "secretName")):
                ref = v.get(key)
                if isinstance(ref, dict) and not ref.get("optional") and \
                        not has(kind, ns, ref.get(field)):
                    err(w, "volume '%s': %s '%s' is not defined in the build"
                        % (v.get("name"), kind, ref.get(field)))
        for c in spec.get("containers") or []:
            for e in c.get("env") or []:
                for key, kind in (("configMapKeyRef", "ConfigMap"), ("secretKeyRef", "Secret")):
                    ref = get(e, "valueFrom", key)
                    if isinstance(ref, dict) and not ref.get("optional") and \
                            not has(kind, ns, ref.get("name")):
                        err(w, "env '%s': %s '%s' is not defined in the build"
                            % (e.get("name"), kind, ref.get("name")))
            for e in c.get("envFrom") or []:
                for key, kind in (("configMapRef", "ConfigMap"), ("secretRef", "Secret")):
                    ref = e.get(key)
                    if isinstance(ref, dict) and not ref.get("optional") and \
                            not has(kind, ns, ref.get("name")):
                        err(w, "envFrom: %s '%s' is not defined in the build"
                            % (kind, ref.get("name")))
            check_sync_rbac(w, objs, c, ns, sa)


def check_sync_rbac(where, objs, c, ns, sa):
    """`dockhand secret sync --name N`: N must be allowed by the Secret rules bound to sa."""
    cmd = [str(x) for x in (c.get("command") or []) + (c.get("args") or [])]
    if cmd[:3] != ["dockhand", "secret", "sync"]:
        return
    name = None
    for i, a in enumerate(cmd):
        if a.startswith("--name="):
            name = a[len("--name="):]
        elif a == "--name" and i + 1 < len(cmd):
            name = cmd[i + 1]
    if not name:
        err(where, "dockhand secret sync without --name")
        return
    roles = set()
    for b in objs:
        if b["kind"] not in ("ClusterRoleBinding", "RoleBinding"):
            continue
        if any(s.get("kind") == "ServiceAccount" and s.get("name") == sa and
               s.get("namespace") == ns for s in b.get("subjects") or []):
            roles.add((b["roleRef"].get("kind"), b["roleRef"].get("name")))
    verbs = set()
    for r in objs:
        if (r["kind"], r["metadata"]["name"]) not in roles:
            continue
        for rule in r.get("rules") or []:
            if "secrets" in (rule.get("resources") or []) and (
                    not rule.get("resourceNames") or name in rule["resourceNames"]):
                verbs.update(rule.get("verbs") or [])
    missing = {"patch", "create"} - verbs
    if missing:
        err(where, "ServiceAccount '%s' may not %s Secret '%s' (check resourceNames)"
            % (sa, " or ".join(sorted(missing)), name))


# --- the tree ---------------------------------------------------------------------------

def validate(root):
    kdirs, files = [], 0
    for d, subdirs, names in os.walk(root):
        subdirs.sort()
        if not os.path.isfile(os.path.join(d, "README.md")):
            err(d, "every folder needs a README.md")
        yamls = sorted(n for n in names if n.endswith((".yaml", ".yml")))
        kfile = kustomization_file(d)
        listed = set()
        if kfile:
            kdirs.append(d)
            docs = load_docs(kfile) or [{}]
            k = docs[0] if isinstance(docs[0], dict) else {}
            listed = {os.path.normpath(os.path.join(d, r)) for r in k.get("resources") or []}
            listed |= {os.path.normpath(os.path.join(d, p["path"])) for p in
                       k.get("patches") or [] if isinstance(p, dict) and p.get("path")}
        for n in yamls:
            p = os.path.join(d, n)
            files += 1
            docs = load_docs(p)
            if docs is None or p == kfile:
                continue
            if not docs:
                err(p, "holds no manifest")
            if kfile and os.path.normpath(p) not in listed:
                err(p, "is not listed in %s" % kfile)
            if kfile and os.path.normpath(p) in listed and any(
                    isinstance(x, dict) and x.get("$patch") for x in docs):
                continue  # a patch, checked by the build
            for doc in docs:
                if is_kustomization(doc):
                    err(p, "a Kustomization must be named kustomization.yaml")
                else:
                    check_doc(p, doc)
    n_objs = 0
    for kd in kdirs:
        objs = build(kd)
        n_objs += len(objs)
        check_build(kd, objs)
    return files, len(kdirs), n_objs


def main(argv):
    global DOCKHAND
    here = os.path.dirname(os.path.abspath(__file__))
    DOCKHAND = os.environ.get("DOCKHAND_BIN") or os.path.join(here, "..", "build", "bin",
                                                              "dockhand")
    if len(argv) >= 3 and argv[1] == "--dockhand":
        DOCKHAND = argv[2]
        argv = argv[:1] + argv[3:]
    if len(argv) == 3 and argv[1] == "--build":
        objs = build(argv[2])
        for o in objs:
            ns = get(o, "metadata", "namespace")
            print("%s %s%s" % (o["kind"], ns + "/" if ns else "", o["metadata"]["name"]))
        for e in ERRORS:
            print(e, file=sys.stderr)
        return 1 if ERRORS else 0
    if len(argv) > 2 or (len(argv) == 2 and argv[1].startswith("-")):
        print("usage: validate-deploy.py [--dockhand BIN] [DIR] | --build KUSTOMIZATION-DIR",
              file=sys.stderr)
        return 2
    root = argv[1] if len(argv) == 2 else os.path.join(os.path.dirname(__file__), "..", "deploy")
    root = os.path.normpath(root)
    if not os.path.isdir(root):
        print("%s: not a directory" % root, file=sys.stderr)
        return 2
    files, kdirs, objs = validate(root)
    for e in ERRORS:
        print(e)
    if ERRORS:
        print("%s: %d problem%s" % (root, len(ERRORS), "" if len(ERRORS) == 1 else "s"),
              file=sys.stderr)
        return 1
    print("%s: %d YAML files, %d kustomizations building %d objects: ok"
          % (root, files, kdirs, objs))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
