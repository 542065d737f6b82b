#!/usr/bin/env bats
# Protocol conformance of docker-credential-dockhand with docker-credential-helpers
# (/work/shared/reference/credhelpers.md §1.1-§1.4 and §1.7).
#
# Every shared case below (case_*) is a function that drives "the helper" through dh_call.
# The same function runs against three helpers, one test row each:
#   secretservice  docker-credential-secretservice in a private D-Bus session with an
#                  unlocked gnome-keyring (lib/peers.bash: dh_keyring_start)
#   pass           docker-credential-pass with a private GNUPGHOME and password store
#   dockhand       $DH_HELPER on its default (file) store in a private HOME/XDG tree
# dh_call records every call in a transcript: argv, stdin, exit status and stdout, with
# the helper's own name replaced by <name>.  Each row checks the case's expectations;
# the dockhand row then also compares its transcript byte for byte with each peer's
# (same input, same status, same stdout).  A call marked --differs=PEER is left out of
# the comparison with PEER, and --out-differs=PEER compares the exit status only; in both
# cases the case asserts what each helper really answers.
#
# The peers are the Debian package golang-docker-credential-helpers 0.6.4, older than the
# v0.9 we target.  Differences found (each asserted explicitly in its case):
#   * version: 0.6.4 prints just "0.6.4"; v0.9 (and dockhand) "<name> (<package>) <version>".
#   * unknown verb: 0.6.4 prints "Unknown credential action `<verb>`"; v0.9 "<name>:
#     unknown action: <verb>".  -v/--version/-h/--help are unknown verbs in 0.6.4.
#   * usage: 0.6.4 prints os.Args[0] (so the peers are run by bare name from PATH);
#     v0.9 prints its link-time name.
#   * pass, missing entry: get prints {"ServerURL":"<url>","Username":"","Secret":""} and
#     exits 0 instead of "credentials not found in native keychain" / 1; erase exits 1 with
#     "exit status 1: Error: docker-credential-helpers/<base64url> is not in the password
#     store.\n" (plus an empty line).  secretservice: erase of a missing entry succeeds
#     silently (credhelpers.md §1.5), which dockhand must match.
#   * empty Secret: secretservice stores it but get then answers "not found"; pass
#     round-trips it.  dockhand may do either (asserted as one of the two).
#   * invalid JSON: the peers print Go decoder errors ("EOF", "invalid character ...").
#   * both peers escape like Go's json.Encoder: < > & as \u003c \u003e \u0026, U+2028/9
#     as \u2028/\u2029, other non-ASCII and DEL raw; map keys (list) sorted bytewise.

bats_require_minimum_version 1.5.0

load lib/common
load lib/peers

NOT_FOUND='credentials not found in native keychain'
NO_URL='no credentials server URL'
NO_USER='no credentials username'
NL=$'\n'
PEERS=(secretservice pass)

setup_file() {
    dh_require jq dbus-run-session dbus-send gnome-keyring-daemon gpg gpgconf pass \
        docker-credential-secretservice docker-credential-pass
    export DH_TRANSCRIPTS="$BATS_FILE_TMPDIR/transcripts"
    mkdir -p "$DH_TRANSCRIPTS"
}

setup() {
    dh_isolate
    DH_FAILS=0
}

teardown() {
    local rc=0
    dh_keyring_stop || rc=1
    dh_pass_stop || rc=1
    return $rc
}

# --- driver ---------------------------------------------------------------------------

# dh_use WHO: makes WHO (dockhand | secretservice | pass) "the helper", on an empty store.
dh_use() {
    H_WHO=$1
    TRANSCRIPT="$BATS_TEST_TMPDIR/transcript.$1"
    : >"$TRANSCRIPT"
    case $1 in
    dockhand)
        [ -x "$DH_HELPER" ] || { echo "helper not built: $DH_HELPER (run make)" >&2; return 1; }
        H=("$DH_HELPER")
        H_NAME=docker-credential-dockhand
        ;;
    secretservice)
        dh_keyring_start
        # By bare name: 0.6.4 prints os.Args[0] in its usage line.
        H=(docker-credential-secretservice)
        H_NAME=docker-credential-secretservice
        ;;
    pass)
        dh_pass_start
        H=(docker-credential-pass)
        H_NAME=docker-credential-pass
        ;;
    *)
        echo "dh_use: unknown helper $1" >&2
        return 1
        ;;
    esac
}

dh_unuse() {
    case $H_WHO in
    secretservice) dh_keyring_stop ;;
    pass) dh_pass_stop ;;
    esac
}

# dh_ns [NAMESPACE]: the dockhand helper runs with DOCKHAND_NAMESPACE=NAMESPACE (unset
# without an argument).
dh_ns() {
    if [ $# -eq 0 ]; then H=("$DH_HELPER"); else H=(env "DOCKHAND_NAMESPACE=$1" "$DH_HELPER"); fi
}

# dh_call [--differs=PEER,..] [--out-differs=PEER,..] STDIN [ARG...]: runs the helper with
# ARGs, STDIN on its stdin.  Sets RC, OUT (stdout, exact bytes) and ERR (stderr).
dh_call() {
    local differs='' outdiffers='' in argv shown f="$BATS_TEST_TMPDIR/call"
    while :; do
        case $1 in
        --differs=*) differs=${1#*=} ;;
        --out-differs=*) outdiffers=${1#*=} ;;
        *) break ;;
        esac
        shift
    done
    in=$1
    shift
    printf '%s' "$in" >"$f.in"
    RC=0
    "${H[@]}" "$@" <"$f.in" >"$f.out" 2>"$f.err" || RC=$?
    OUT=$(cat "$f.out" && printf x)
    OUT=${OUT%x}
    ERR=$(cat "$f.err")
    argv=$(printf '%q ' "$@")
    if [ ${#in} -gt 4096 ]; then
        shown="<${#in} chars, sha256 $(sha256sum <"$f.in" | cut -c1-16)>"
    else
        shown=$(printf '%q' "$in")
    fi
    LAST="$H_WHO: $H_NAME ${argv}<<< $shown"
    printf '%s\t%s\t%s\t%s\t%s\t%q\n' "$differs" "$outdiffers" "$argv" "$shown" "$RC" \
        "${OUT//"$H_NAME"/<name>}" >>"$TRANSCRIPT"
}

# _dh_fail MESSAGE: records a failed expectation about the last call (the test goes on,
# so one run shows every difference; dh_done fails it).
_dh_fail() {
    {
        echo "FAIL $LAST"
        echo "     $1"
        if [ -n "$ERR" ]; then printf '     stderr: %q\n' "$ERR"; fi
    } >&2
    DH_FAILS=$((DH_FAILS + 1))
}

# dh_expect STATUS STDOUT: the last call exited STATUS and printed exactly STDOUT.
dh_expect() {
    if [ "$RC" != "$1" ] || [ "$OUT" != "$2" ]; then
        _dh_fail "expected status $1, stdout $(printf %q "$2"); got status $RC, stdout $(printf %q "$OUT")"
    fi
}

# dh_expect_match STATUS REGEX: the status is STATUS and stdout matches the ERE REGEX.
dh_expect_match() {
    if [ "$RC" != "$1" ] || ! [[ $OUT =~ $2 ]]; then
        _dh_fail "expected status $1, stdout matching /$2/; got status $RC, stdout $(printf %q "$OUT")"
    fi
}

# dh_expect_creds URL USER SECRET: a get answer exactly as docker-credential-helpers prints it.
# (The arguments must need no JSON escaping.)
dh_expect_creds() {
    dh_expect 0 "{\"ServerURL\":\"$1\",\"Username\":\"$2\",\"Secret\":\"$3\"}$NL"
}

# dh_expect_not_found URL: the answer to a get of something never stored.
dh_expect_not_found() {
    if [ "$H_WHO" = pass ]; then
        # 0.6.4 pass.go Get returns "", "", nil for a missing entry.
        dh_expect_creds "$1" "" ""
    else
        dh_expect 1 "$NOT_FOUND$NL"
    fi
}

# dh_expect_error: exactly one non-empty line on stdout, status 1 (the message may vary).
dh_expect_error() {
    if [ "$RC" != 1 ] || ! [[ $OUT =~ ^[^$NL]+$NL$ ]]; then
        _dh_fail "expected status 1 and a one-line error on stdout; got status $RC, stdout $(printf %q "$OUT")"
    fi
}

# dh_expect_list_len N: stdout is a JSON object of N string values, status 0.
dh_expect_list_len() {
    local n
    n=$(printf '%s' "$OUT" |
        jq -e 'if type == "object" and all(.[]; type == "string") then length
               else error("not an object of strings") end' 2>&1) || n="invalid: $n"
    if [ "$RC" != 0 ] || [ "$n" != "$1" ]; then
        _dh_fail "expected a JSON object of $1 server URL -> username entries; got status $RC, $n, stdout $(printf %q "$OUT")"
    fi
}

# dh_done: fails the test when an expectation failed.
dh_done() {
    if [ "$DH_FAILS" -ne 0 ]; then
        echo "$DH_FAILS expectation(s) failed" >&2
        return 1
    fi
}

# _dh_view PEER TRANSCRIPT: the transcript as compared with PEER.
_dh_view() {
    awk -F'\t' -v OFS='\t' -v p="$1" '
        index("," $1 ",", "," p ",") { next }
        index("," $2 ",", "," p ",") { $6 = "<differs: status only>" }
        { print $3, $4, $5, $6 }' "$2"
}

# dh_compare PEER CASE: dockhand's transcript of CASE equals PEER's, byte for byte.
dh_compare() {
    local peer=$1 fn=$2
    if ! diff -u --label "$peer" --label dockhand \
            <(_dh_view "$peer" "$DH_TRANSCRIPTS/$peer/$fn") \
            <(_dh_view "$peer" "$DH_TRANSCRIPTS/dockhand/$fn") >&2; then
        echo "FAIL dockhand answers $fn differently from $peer (- $peer, + dockhand; argv, stdin, status, stdout)" >&2
        return 1
    fi
}

# _dh_run_one WHO CASE: runs CASE against WHO on a fresh store and keeps the transcript.
_dh_run_one() {
    dh_use "$1"
    "$2"
    dh_unuse
    mkdir -p "$DH_TRANSCRIPTS/$1"
    cp "$TRANSCRIPT" "$DH_TRANSCRIPTS/$1/$2"
}

# dh_run_case WHO CASE: runs CASE against WHO.  For dockhand, also compares the transcript
# with both peers' (running a peer now if its own row has not run, e.g. under bats -f).
dh_run_case() {
    local who=$1 fn=$2 peer rc=0
    _dh_run_one "$who" "$fn"
    if [ "$who" != dockhand ]; then
        dh_done
        return
    fi
    dh_done || rc=1
    for peer in "${PEERS[@]}"; do
        if [ ! -f "$DH_TRANSCRIPTS/$peer/$fn" ]; then
            DH_FAILS=0
            _dh_run_one "$peer" "$fn"
            dh_done || echo "(the $peer run above only serves as the reference for the comparison)" >&2
        fi
        dh_compare "$peer" "$fn" || rc=1
    done
    return $rc
}

# --- shared cases ---------------------------------------------------------------------

# §1.7 credentials_test 1, §1.2: store+get round trip, one JSON line with these exact keys.
case_round_trip() {
    dh_call '{"ServerURL":"https://registry.example.com/v1/","Username":"foo","Secret":"bar"}' store
    dh_expect 0 ''
    dh_call 'https://registry.example.com/v1/' get
    dh_expect_creds https://registry.example.com/v1/ foo bar
    # The docker client sends the URL without a newline; a shell user often adds one.
    dh_call "https://registry.example.com/v1/$NL" get
    dh_expect_creds https://registry.example.com/v1/ foo bar
}

# §1.3, §1.7 backend tests: a get of a server never stored, next to one that is.
case_get_unknown() {
    dh_call '{"ServerURL":"https://known.example.com","Username":"u","Secret":"s"}' store
    dh_expect 0 ''
    dh_call --differs=pass 'https://unknown.example.com' get
    dh_expect_not_found https://unknown.example.com
    dh_call --differs=pass 'https://known.example.com.evil.example' get
    dh_expect_not_found https://known.example.com.evil.example
}

# §1.7: Get("garbage") is not-found, on an empty and on a non-empty store.
case_get_garbage() {
    dh_call --differs=pass 'garbage' get
    dh_expect_not_found garbage
    dh_call '{"ServerURL":"https://registry.example.com","Username":"u","Secret":"s"}' store
    dh_call --differs=pass 'garbage' get
    dh_expect_not_found garbage
}

# §1.2, §1.7 credentials_test 2: store without a server URL.
case_store_no_url() {
    dh_call '{"ServerURL":"","Username":"u","Secret":"s"}' store
    dh_expect 1 "$NO_URL$NL"
    dh_call '{"Username":"u","Secret":"s"}' store
    dh_expect 1 "$NO_URL$NL"
    dh_call '{}' store
    dh_expect 1 "$NO_URL$NL"
    dh_call '' list
    dh_expect 0 "{}$NL"
}

# §1.2, §1.7 credentials_test 3: store without a username.
case_store_no_username() {
    dh_call '{"ServerURL":"https://registry.example.com","Username":"","Secret":"s"}' store
    dh_expect 1 "$NO_USER$NL"
    dh_call '{"ServerURL":"https://registry.example.com","Secret":"s"}' store
    dh_expect 1 "$NO_USER$NL"
    dh_call '' list
    dh_expect 0 "{}$NL"
}

# §1.2, §1.7 credentials_test 4: get with empty (or blank) stdin.
case_get_empty_stdin() {
    dh_call '' get
    dh_expect 1 "$NO_URL$NL"
    dh_call "  $NL	$NL" get
    dh_expect 1 "$NO_URL$NL"
}

# §1.2, §1.7 credentials_test 6: erase with empty (or blank) stdin.
case_erase_empty_stdin() {
    dh_call '' erase
    dh_expect 1 "$NO_URL$NL"
    dh_call "  $NL" erase
    dh_expect 1 "$NO_URL$NL"
}

# §1.7 credentials_test 5: erase, then get is not-found and list is empty.
case_erase_then_get() {
    dh_call '{"ServerURL":"https://registry.example.com","Username":"u","Secret":"s"}' store
    dh_expect 0 ''
    dh_call 'https://registry.example.com' get
    dh_expect_creds https://registry.example.com u s
    dh_call 'https://registry.example.com' erase
    dh_expect 0 ''
    dh_call --differs=pass 'https://registry.example.com' get
    dh_expect_not_found https://registry.example.com
    dh_call '' list
    dh_expect 0 "{}$NL"
}

# erase of a server never stored: secretservice succeeds silently (§1.5), pass fails.
case_erase_missing() {
    dh_call --differs=pass 'https://missing.example.com' erase
    if [ "$H_WHO" = pass ]; then
        # `pass rm -rf` of a missing entry, error text passed through (base64url of the URL).
        dh_expect 1 "exit status 1: Error: docker-credential-helpers/aHR0cHM6Ly9taXNzaW5nLmV4YW1wbGUuY29t is not in the password store.$NL$NL"
    else
        dh_expect 0 ''
    fi
}

# §1.2, §1.7: list is a JSON object server URL -> username, +1 per store, -1 per erase,
# keys sorted (Go map encoding).
case_list() {
    dh_call '' list
    dh_expect 0 "{}$NL"
    dh_expect_list_len 0
    dh_call '{"ServerURL":"https://c.example.com/v1/","Username":"uc","Secret":"sc"}' store
    dh_call 'unused' list
    dh_expect_list_len 1
    dh_expect 0 "{\"https://c.example.com/v1/\":\"uc\"}$NL"
    dh_call '{"ServerURL":"https://a.example.com","Username":"ua","Secret":"sa"}' store
    dh_call '' list
    dh_expect_list_len 2
    dh_call '{"ServerURL":"https://b.example.com:5000","Username":"ub","Secret":"sb"}' store
    dh_call '' list
    dh_expect_list_len 3
    dh_expect 0 "{\"https://a.example.com\":\"ua\",\"https://b.example.com:5000\":\"ub\",\"https://c.example.com/v1/\":\"uc\"}$NL"
    dh_call 'https://a.example.com' erase
    dh_expect 0 ''
    dh_call '' list
    dh_expect_list_len 2
    dh_expect 0 "{\"https://b.example.com:5000\":\"ub\",\"https://c.example.com/v1/\":\"uc\"}$NL"
}

# §1.4, §1.7 client_test 1: identity token (Username "<token>") round trip.  Go's encoder
# escapes < and > and &.
case_token() {
    dh_call '{"ServerURL":"https://example.com:5002","Username":"<token>","Secret":"eyJhbGciOiJSUzI1NiJ9.e30.c2ln&x"}' store
    dh_expect 0 ''
    dh_call 'https://example.com:5002' get
    dh_expect 0 "{\"ServerURL\":\"https://example.com:5002\",\"Username\":\"\\u003ctoken\\u003e\",\"Secret\":\"eyJhbGciOiJSUzI1NiJ9.e30.c2ln\\u0026x\"}$NL"
    if [ "$(printf '%s' "$OUT" | jq -r .Username)" != '<token>' ]; then
        _dh_fail "Username does not decode to <token>"
    fi
    dh_call '' list
    dh_expect 0 "{\"https://example.com:5002\":\"\\u003ctoken\\u003e\"}$NL"
}

# §1.2: JSON keys match case-insensitively (Go's decoder).
case_keys_case_insensitive() {
    dh_call '{"serverurl":"https://ci.example.com","USERNAME":"ci-user","sEcReT":"ci-secret"}' store
    dh_expect 0 ''
    dh_call 'https://ci.example.com' get
    dh_expect_creds https://ci.example.com ci-user ci-secret
}

# §1.2: store reads stdin line by line; pretty-printed JSON (LF or CRLF) is accepted.
case_multiline_json() {
    dh_call "{$NL  \"ServerURL\": \"https://ml.example.com\",$NL  \"Username\": \"ml-user\",$NL  \"Secret\": \"ml-secret\"$NL}$NL" store
    dh_expect 0 ''
    dh_call 'https://ml.example.com' get
    dh_expect_creds https://ml.example.com ml-user ml-secret
    dh_call $'{\r\n\t"ServerURL": "https://crlf.example.com",\r\n\t"Username": "crlf-user",\r\n\t"Secret": "crlf-secret"\r\n}\r\n' store
    dh_expect 0 ''
    dh_call 'https://crlf.example.com' get
    dh_expect_creds https://crlf.example.com crlf-user crlf-secret
}

# §1.2 [observation]: get/erase read stdin with bufio.Scanner and join the lines without
# separators before trimming, so a URL split over lines still matches.
case_get_joins_lines() {
    dh_call '{"ServerURL":"https://joined.example.com","Username":"u","Secret":"s"}' store
    dh_call "https://joined.$NL""example.com$NL" get
    dh_expect_creds https://joined.example.com u s
}

# §1.2: get trims surrounding white space and echoes the trimmed URL.
case_get_trims_input() {
    dh_call '{"ServerURL":"https://trim.example.com","Username":"u","Secret":"s"}' store
    dh_call "   https://trim.example.com  $NL" get
    dh_expect_creds https://trim.example.com u s
    dh_call $'\thttps://trim.example.com\r\n\n' get
    dh_expect_creds https://trim.example.com u s
    dh_call " https://trim.example.com $NL" erase
    dh_expect 0 ''
    dh_call '' list
    dh_expect 0 "{}$NL"
}

# §1.1: wrong number of arguments: usage on stdout, status 1.
case_usage() {
    dh_call ''
    dh_expect 1 "Usage: $H_NAME <store|get|erase|list|version>$NL"
    dh_call '' get extra
    dh_expect 1 "Usage: $H_NAME <store|get|erase|list|version>$NL"
    dh_call '' list list list
    dh_expect 1 "Usage: $H_NAME <store|get|erase|list|version>$NL"
}

# §1.1: unknown verb (verbs are case-sensitive).
case_unknown_verb() {
    local v
    for v in frob STORE; do
        dh_call --out-differs=secretservice,pass '' "$v"
        if [ "$H_WHO" = dockhand ]; then
            dh_expect 1 "$H_NAME: unknown action: $v$NL"
        else
            dh_expect 1 "Unknown credential action \`$v\`$NL"
        fi
    done
}

# §1.1: version.
case_version() {
    dh_call --out-differs=secretservice,pass '' version
    if [ "$H_WHO" = dockhand ]; then
        dh_expect_match 0 "^$H_NAME \\([^()$NL]+\\) v?[0-9]+\\.[0-9]+\\.[0-9]+[^ $NL]*$NL\$"
    else
        dh_expect_match 0 "^v?[0-9]+\\.[0-9]+\\.[0-9]+[^ $NL]*$NL\$"
    fi
}

# §1.1 (v0.9): -v/--version print the version, -h/--help the usage, status 0.  0.6.4 peers
# treat them as unknown verbs.
case_version_help_flags() {
    local f
    for f in -v --version -h --help; do
        dh_call --differs=secretservice,pass '' "$f"
        if [ "$H_WHO" != dockhand ]; then
            dh_expect 1 "Unknown credential action \`$f\`$NL"
        elif [ "$f" = -v ] || [ "$f" = --version ]; then
            dh_expect_match 0 "^$H_NAME \\([^()$NL]+\\) v?[0-9]+\\.[0-9]+\\.[0-9]+[^ $NL]*$NL\$"
        else
            dh_expect 0 "Usage: $H_NAME <store|get|erase|list|version>$NL"
        fi
    done
}

# §1.7 backend tests: two ports of one host are two entries; no port matches neither.
case_ports_distinct() {
    dh_call '{"ServerURL":"https://example.com:5002","Username":"u2","Secret":"s2"}' store
    dh_call '{"ServerURL":"https://example.com:5003","Username":"u3","Secret":"s3"}' store
    dh_call 'https://example.com:5002' get
    dh_expect_creds https://example.com:5002 u2 s2
    dh_call 'https://example.com:5003' get
    dh_expect_creds https://example.com:5003 u3 s3
    dh_call --differs=pass 'https://example.com' get
    dh_expect_not_found https://example.com
    dh_call --differs=pass 'https://example.com:5004' get
    dh_expect_not_found https://example.com:5004
    dh_call '' list
    dh_expect_list_len 2
    dh_call 'https://example.com:5002' erase
    dh_call 'https://example.com:5003' get
    dh_expect_creds https://example.com:5003 u3 s3
    dh_call --differs=pass 'https://example.com:5002' get
    dh_expect_not_found https://example.com:5002
}

# A second store for the same server and username replaces the secret.
case_overwrite() {
    dh_call '{"ServerURL":"https://registry.example.com","Username":"u","Secret":"old"}' store
    dh_call '{"ServerURL":"https://registry.example.com","Username":"u","Secret":"new"}' store
    dh_expect 0 ''
    dh_call 'https://registry.example.com' get
    dh_expect_creds https://registry.example.com u new
    dh_call '' list
    dh_expect 0 "{\"https://registry.example.com\":\"u\"}$NL"
}

# §1.2: output escaping exactly as Go's json.Encoder (stable across Go versions: no \b \f).
case_json_escaping() {
    dh_call '{"ServerURL":"https://esc.example.com","Username":"us\u00e9r","Secret":"a\nb\tc\rd\u0001e\"f\\g/h<i>j&k\u2028l\u2029m\u007fn\u00ff"}' store
    dh_expect 0 ''
    dh_call 'https://esc.example.com' get
    dh_expect 0 '{"ServerURL":"https://esc.example.com","Username":"us'$'\xc3\xa9''r","Secret":"a\nb\tc\rd\u0001e\"f\\g/h\u003ci\u003ej\u0026k\u2028l\u2029m'$'\x7f''n'$'\xc3\xbf''"}'"$NL"
    dh_call '' list
    dh_expect 0 '{"https://esc.example.com":"us'$'\xc3\xa9''r"}'"$NL"
}

# Unknown JSON members are ignored (Go's decoder).
case_extra_fields() {
    dh_call '{"ServerURL":"https://x.example.com","Username":"u","Secret":"s","Email":"e@example.com","Extra":{"a":[1,2,null]}}' store
    dh_expect 0 ''
    dh_call 'https://x.example.com' get
    dh_expect_creds https://x.example.com u s
}

# A 60 KiB secret (a large token, under bufio.Scanner's 64 KiB line limit) round-trips.
case_large_secret() {
    local secret
    secret=$(head -c 45000 /dev/zero | tr '\0' 'x' | base64 -w0)
    dh_call "{\"ServerURL\":\"https://big.example.com\",\"Username\":\"u\",\"Secret\":\"$secret\"}" store
    dh_expect 0 ''
    dh_call 'https://big.example.com' get
    dh_expect_creds https://big.example.com u "$secret"
}

# §1.2: an empty Secret is accepted by store.  What get answers differs (see the header).
case_empty_secret() {
    dh_call '{"ServerURL":"https://empty.example.com","Username":"u","Secret":""}' store
    dh_expect 0 ''
    dh_call --differs=secretservice,pass 'https://empty.example.com' get
    case $H_WHO in
    secretservice) dh_expect 1 "$NOT_FOUND$NL" ;;
    pass) dh_expect_creds https://empty.example.com u '' ;;
    dockhand)
        if [ "$RC" = 0 ]; then dh_expect_creds https://empty.example.com u ''; else dh_expect 1 "$NOT_FOUND$NL"; fi
        echo "# dockhand: get of an empty secret answers status $RC" >&3
        ;;
    esac
    dh_call '' list
    dh_expect 0 "{\"https://empty.example.com\":\"u\"}$NL"
}

# Malformed JSON on store: status 1, an error line, nothing stored.  The messages differ
# (Go decoder errors in the peers).
case_invalid_json() {
    dh_call --out-differs=secretservice,pass 'not json' store
    dh_expect_error
    dh_call --out-differs=secretservice,pass '' store
    dh_expect_error
    dh_call --out-differs=secretservice,pass '{"ServerURL":"https://bad.example.com","Username":"u"' store
    dh_expect_error
    dh_call --out-differs=secretservice,pass '["https://bad.example.com","u","s"]' store
    dh_expect_error
    dh_call --out-differs=secretservice,pass '{"ServerURL":1,"Username":"u","Secret":"s"}' store
    dh_expect_error
    if [ "$H_WHO" != dockhand ]; then
        dh_call --differs=secretservice,pass 'not json' store
        dh_expect 1 "invalid character 'o' in literal null (expecting 'u')$NL"
        dh_call --differs=secretservice,pass '' store
        dh_expect 1 "EOF$NL"
    fi
    dh_call '' list
    dh_expect 0 "{}$NL"
}

# One @test per (case, helper).  The peers run first, so their transcripts are ready for
# the comparison in the dockhand row.
#
# dh_cases lists: function | description
@test "round trip: secretservice" { dh_run_case secretservice case_round_trip; }
@test "round trip: pass" { dh_run_case pass case_round_trip; }
@test "round trip: dockhand, same bytes as the peers" { dh_run_case dockhand case_round_trip; }

@test "get of an unknown server: secretservice" { dh_run_case secretservice case_get_unknown; }
@test "get of an unknown server: pass" { dh_run_case pass case_get_unknown; }
@test "get of an unknown server: dockhand, same bytes as the peers" { dh_run_case dockhand case_get_unknown; }

@test "get garbage: secretservice" { dh_run_case secretservice case_get_garbage; }
@test "get garbage: pass" { dh_run_case pass case_get_garbage; }
@test "get garbage: dockhand, same bytes as the peers" { dh_run_case dockhand case_get_garbage; }

@test "store without ServerURL: secretservice" { dh_run_case secretservice case_store_no_url; }
@test "store without ServerURL: pass" { dh_run_case pass case_store_no_url; }
@test "store without ServerURL: dockhand, same bytes as the peers" { dh_run_case dockhand case_store_no_url; }

@test "store without Username: secretservice" { dh_run_case secretservice case_store_no_username; }
@test "store without Username: pass" { dh_run_case pass case_store_no_username; }
@test "store without Username: dockhand, same bytes as the peers" { dh_run_case dockhand case_store_no_username; }

@test "get with empty stdin: secretservice" { dh_run_case secretservice case_get_empty_stdin; }
@test "get with empty stdin: pass" { dh_run_case pass case_get_empty_stdin; }
@test "get with empty stdin: dockhand, same bytes as the peers" { dh_run_case dockhand case_get_empty_stdin; }

@test "erase with empty stdin: secretservice" { dh_run_case secretservice case_erase_empty_stdin; }
@test "erase with empty stdin: pass" { dh_run_case pass case_erase_empty_stdin; }
@test "erase with empty stdin: dockhand, same bytes as the peers" { dh_run_case dockhand case_erase_empty_stdin; }

@test "erase then get: secretservice" { dh_run_case secretservice case_erase_then_get; }
@test "erase then get: pass" { dh_run_case pass case_erase_then_get; }
@test "erase then get: dockhand, same bytes as the peers" { dh_run_case dockhand case_erase_then_get; }

@test "erase of a missing entry: secretservice" { dh_run_case secretservice case_erase_missing; }
@test "erase of a missing entry: pass" { dh_run_case pass case_erase_missing; }
@test "erase of a missing entry: dockhand, same bytes as secretservice" { dh_run_case dockhand case_erase_missing; }

@test "list: secretservice" { dh_run_case secretservice case_list; }
@test "list: pass" { dh_run_case pass case_list; }
@test "list: dockhand, same bytes as the peers" { dh_run_case dockhand case_list; }

@test "identity token: secretservice" { dh_run_case secretservice case_token; }
@test "identity token: pass" { dh_run_case pass case_token; }
@test "identity token: dockhand, same bytes as the peers" { dh_run_case dockhand case_token; }

@test "case-insensitive JSON keys: secretservice" { dh_run_case secretservice case_keys_case_insensitive; }
@test "case-insensitive JSON keys: pass" { dh_run_case pass case_keys_case_insensitive; }
@test "case-insensitive JSON keys: dockhand, same bytes as the peers" { dh_run_case dockhand case_keys_case_insensitive; }

@test "multi-line JSON: secretservice" { dh_run_case secretservice case_multiline_json; }
@test "multi-line JSON: pass" { dh_run_case pass case_multiline_json; }
@test "multi-line JSON: dockhand, same bytes as the peers" { dh_run_case dockhand case_multiline_json; }

@test "get joins stdin lines: secretservice" { dh_run_case secretservice case_get_joins_lines; }
@test "get joins stdin lines: pass" { dh_run_case pass case_get_joins_lines; }
@test "get joins stdin lines: dockhand, same bytes as the peers" { dh_run_case dockhand case_get_joins_lines; }

@test "get/erase trim stdin: secretservice" { dh_run_case secretservice case_get_trims_input; }
@test "get/erase trim stdin: pass" { dh_run_case pass case_get_trims_input; }
@test "get/erase trim stdin: dockhand, same bytes as the peers" { dh_run_case dockhand case_get_trims_input; }

@test "usage: secretservice" { dh_run_case secretservice case_usage; }
@test "usage: pass" { dh_run_case pass case_usage; }
@test "usage: dockhand, same bytes as the peers" { dh_run_case dockhand case_usage; }

@test "unknown verb: secretservice" { dh_run_case secretservice case_unknown_verb; }
@test "unknown verb: pass" { dh_run_case pass case_unknown_verb; }
@test "unknown verb: dockhand, v0.9 text" { dh_run_case dockhand case_unknown_verb; }

@test "version: secretservice" { dh_run_case secretservice case_version; }
@test "version: pass" { dh_run_case pass case_version; }
@test "version: dockhand, v0.9 format" { dh_run_case dockhand case_version; }

@test "-v/--version/-h/--help: secretservice" { dh_run_case secretservice case_version_help_flags; }
@test "-v/--version/-h/--help: pass" { dh_run_case pass case_version_help_flags; }
@test "-v/--version/-h/--help: dockhand, v0.9 behaviour" { dh_run_case dockhand case_version_help_flags; }

@test "ports are distinct: secretservice" { dh_run_case secretservice case_ports_distinct; }
@test "ports are distinct: pass" { dh_run_case pass case_ports_distinct; }
@test "ports are distinct: dockhand, same bytes as the peers" { dh_run_case dockhand case_ports_distinct; }

@test "overwrite: secretservice" { dh_run_case secretservice case_overwrite; }
@test "overwrite: pass" { dh_run_case pass case_overwrite; }
@test "overwrite: dockhand, same bytes as the peers" { dh_run_case dockhand case_overwrite; }

@test "JSON escaping: secretservice" { dh_run_case secretservice case_json_escaping; }
@test "JSON escaping: pass" { dh_run_case pass case_json_escaping; }
@test "JSON escaping: dockhand, same bytes as the peers" { dh_run_case dockhand case_json_escaping; }

@test "unknown JSON members: secretservice" { dh_run_case secretservice case_extra_fields; }
@test "unknown JSON members: pass" { dh_run_case pass case_extra_fields; }
@test "unknown JSON members: dockhand, same bytes as the peers" { dh_run_case dockhand case_extra_fields; }

@test "60 KiB secret: secretservice" { dh_run_case secretservice case_large_secret; }
@test "60 KiB secret: pass" { dh_run_case pass case_large_secret; }
@test "60 KiB secret: dockhand, same bytes as the peers" { dh_run_case dockhand case_large_secret; }

@test "empty Secret: secretservice" { dh_run_case secretservice case_empty_secret; }
@test "empty Secret: pass" { dh_run_case pass case_empty_secret; }
@test "empty Secret: dockhand" { dh_run_case dockhand case_empty_secret; }

@test "invalid JSON on store: secretservice" { dh_run_case secretservice case_invalid_json; }
@test "invalid JSON on store: pass" { dh_run_case pass case_invalid_json; }
@test "invalid JSON on store: dockhand, same status as the peers" { dh_run_case dockhand case_invalid_json; }

# --- dockhand only --------------------------------------------------------------------

# dh_list_snapshot: prints the default namespace's list output.
dh_list_snapshot() {
    dh_call '' list
    printf '%s|%s' "$RC" "$OUT"
}

@test "dockhand only: DOCKHAND_NAMESPACE selects a separate credential set" {
    dh_use dockhand
    dh_call '{"ServerURL":"https://ns.example.com","Username":"default-user","Secret":"default-secret"}' store
    dh_expect 0 ''
    dh_ns ci
    dh_call '{"ServerURL":"https://ns.example.com","Username":"ci-user","Secret":"ci-secret"}' store
    dh_expect 0 ''
    dh_call '{"ServerURL":"https://only-ci.example.com","Username":"c","Secret":"c"}' store
    dh_call 'https://ns.example.com' get
    dh_expect_creds https://ns.example.com ci-user ci-secret
    dh_call '' list
    dh_expect 0 "{\"https://ns.example.com\":\"ci-user\",\"https://only-ci.example.com\":\"c\"}$NL"
    dh_ns
    dh_call 'https://ns.example.com' get
    dh_expect_creds https://ns.example.com default-user default-secret
    dh_call 'https://only-ci.example.com' get
    dh_expect 1 "$NOT_FOUND$NL"
    dh_call '' list
    dh_expect 0 "{\"https://ns.example.com\":\"default-user\"}$NL"
    # "default" is the namespace used when the variable is unset.
    dh_ns default
    dh_call 'https://ns.example.com' get
    dh_expect_creds https://ns.example.com default-user default-secret
    dh_call 'https://only-ci.example.com' get
    dh_expect 1 "$NOT_FOUND$NL"
    # Erasing in one namespace leaves the other alone.
    dh_ns ci
    dh_call 'https://ns.example.com' erase
    dh_expect 0 ''
    dh_ns
    dh_call 'https://ns.example.com' get
    dh_expect_creds https://ns.example.com default-user default-secret
    dh_done
}

@test "dockhand only: DOCKHAND_STORE=file is the default store" {
    dh_use dockhand
    dh_call '{"ServerURL":"https://file.example.com","Username":"u","Secret":"s"}' store
    H=(env DOCKHAND_STORE=file "$DH_HELPER")
    dh_call 'https://file.example.com' get
    dh_expect_creds https://file.example.com u s
    dh_done
}

@test "dockhand only: Docker Hub aliases" {
    dh_use dockhand
    dh_call '{"ServerURL":"docker.io","Username":"hubuser","Secret":"hubsecret"}' store
    dh_expect 0 ''
    local url
    for url in https://index.docker.io/v1/ docker.io index.docker.io https://docker.io; do
        dh_call "$url" get
        dh_expect_creds "$url" hubuser hubsecret
    done
    dh_call 'https://index.docker.io/v1/' erase
    dh_expect 0 ''
    dh_call 'docker.io' get
    dh_expect 1 "$NOT_FOUND$NL"
    # And the other way round: stored under the legacy index URL, found as docker.io.
    dh_call '{"ServerURL":"https://index.docker.io/v1/","Username":"hub2","Secret":"s2"}' store
    dh_call 'docker.io' get
    dh_expect_creds docker.io hub2 s2
    dh_done
}

@test "dockhand only: host:port is https://host:port" {
    dh_use dockhand
    dh_call '{"ServerURL":"registry.example.com:5000","Username":"u","Secret":"s"}' store
    dh_call 'https://registry.example.com:5000' get
    dh_expect_creds https://registry.example.com:5000 u s
    dh_call '{"ServerURL":"https://other.example.com:5000","Username":"o","Secret":"t"}' store
    dh_call 'other.example.com:5000' get
    dh_expect_creds other.example.com:5000 o t
    dh_done
}

@test "dockhand only: a trailing /v2/ is ignored" {
    dh_use dockhand
    dh_call '{"ServerURL":"https://registry.example.com:5000","Username":"u","Secret":"s"}' store
    dh_call 'https://registry.example.com:5000/v2/' get
    dh_expect_creds https://registry.example.com:5000/v2/ u s
    dh_call 'registry.example.com:5000/v2/' get
    dh_expect_creds registry.example.com:5000/v2/ u s
    dh_call '{"ServerURL":"https://v2.example.com/v2/","Username":"v","Secret":"w"}' store
    dh_call 'https://v2.example.com' get
    dh_expect_creds https://v2.example.com v w
    dh_done
}

@test "dockhand only: another port never matches" {
    dh_use dockhand
    dh_call '{"ServerURL":"https://registry.example.com:5000","Username":"u","Secret":"s"}' store
    local url
    for url in https://registry.example.com:5001 https://registry.example.com \
            registry.example.com registry.example.com:443 registry.example.com:50000 \
            https://registry.example.com:500; do
        dh_call "$url" get
        dh_expect 1 "$NOT_FOUND$NL"
    done
    dh_done
}

@test "dockhand only: input over the size limit is refused, store unchanged" {
    dh_use dockhand
    dh_call '{"ServerURL":"https://keep.example.com","Username":"u","Secret":"s"}' store
    local before big
    before=$(dh_list_snapshot)
    big=$(head -c $((2 * 1024 * 1024)) /dev/zero | tr '\0' 'a')
    dh_call "{\"ServerURL\":\"https://big.example.com\",\"Username\":\"u\",\"Secret\":\"$big\"}" store
    dh_expect_error
    dh_call "https://$big.example.com" get
    dh_expect_error
    dh_call "https://keep.example.com/$big" erase
    dh_expect_error
    [ "$(dh_list_snapshot)" = "$before" ] || _dh_fail "list changed: before $(printf %q "$before")"
    dh_call 'https://keep.example.com' get
    dh_expect_creds https://keep.example.com u s
    dh_done
}

@test "dockhand only: invalid JSON is refused with one line, store unchanged" {
    dh_use dockhand
    dh_call '{"ServerURL":"https://keep.example.com","Username":"u","Secret":"s"}' store
    local before in
    before=$(dh_list_snapshot)
    for in in 'not json' '' '{' '{"ServerURL":"https://bad.example.com","Username":"u"' \
            '["https://bad.example.com","u","s"]' '{"ServerURL":1,"Username":"u","Secret":"s"}' \
            '{"ServerURL":"https://bad.example.com","Username":"u","Secret":"s",}' \
            "{\"ServerURL\":\"https://bad.example.com\",$NL\"Username\":\"u\",\"Secret\":'s'}" \
            '{"ServerURL":"https://bad.example.com","Username":"u","Secret":"\x41"}'; do
        dh_call "$in" store
        dh_expect_error
    done
    [ "$(dh_list_snapshot)" = "$before" ] || _dh_fail "list changed: before $(printf %q "$before")"
    dh_done
}

@test "dockhand only: invalid UTF-8 is refused with one line, store unchanged" {
    dh_use dockhand
    dh_call '{"ServerURL":"https://keep.example.com","Username":"u","Secret":"s"}' store
    local before in
    before=$(dh_list_snapshot)
    for in in $'{"ServerURL":"https://bad.example.com","Username":"u","Secret":"s\xff"}' \
            $'{"ServerURL":"https://bad.example.com","Username":"u\xc3\x28","Secret":"s"}' \
            $'{"ServerURL":"https://bad\xc0\xaf.example.com","Username":"u","Secret":"s"}' \
            $'{"ServerURL":"https://bad.example.com","Username":"u","Secret":"\xed\xa0\x80"}'; do
        dh_call "$in" store
        dh_expect_error
    done
    dh_call $'https://keep\xff.example.com' get
    dh_expect_error
    dh_call $'https://keep.example.com\xfe' erase
    dh_expect_error
    [ "$(dh_list_snapshot)" = "$before" ] || _dh_fail "list changed: before $(printf %q "$before")"
    dh_done
}

@test "dockhand only: store files are 0600 and hold no plain-text secret" {
    dh_use dockhand
    local marker="S3cret-Marker-$RANDOM$RANDOM" files f mode
    dh_call "{\"ServerURL\":\"https://files.example.com\",\"Username\":\"u\",\"Secret\":\"$marker\"}" store
    dh_expect 0 ''
    dh_ns ci
    dh_call "{\"ServerURL\":\"https://files.example.com\",\"Username\":\"u\",\"Secret\":\"$marker\"}" store
    dh_expect 0 ''
    files=$(find "$XDG_DATA_HOME/dockhand" -type f 2>/dev/null)
    [ -n "$files" ] || _dh_fail "no file under $XDG_DATA_HOME/dockhand after a store"
    while IFS= read -r f; do
        [ -n "$f" ] || continue
        mode=$(stat -c %a "$f")
        [ "$mode" = 600 ] || _dh_fail "$f has mode $mode, not 600"
    done <<<"$files"
    if grep -rlF -e "$marker" -e "$(printf '%s' "$marker" | base64 -w0)" "$XDG_DATA_HOME/dockhand" >&2; then
        _dh_fail "the secret is readable in the files above"
    fi
    dh_done
}
