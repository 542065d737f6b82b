#!/usr/bin/env bats
# Many docker-credential-dockhand processes writing one namespace of the file
# store at once: no lost update, no torn entry, no temporary file left behind,
# no file readable by others.

# shellcheck disable=SC2030,SC2031  # each @test runs in its own subshell on purpose

bats_require_minimum_version 1.5.0

load lib/common

STORES=40
ERASES=10
ROUNDS=3
SAME_WRITERS=20

setup() {
    dh_require jq
    dh_isolate
    [ -x "$DH_HELPER" ] || { echo "helper not built: $DH_HELPER" >&2; return 1; }
    export PATH="$DOCKHAND_BIN_DIR:$PATH"
    STORE_DIR="$XDG_DATA_HOME/dockhand"
    WORK="$BATS_TEST_TMPDIR/work"
    mkdir -p "$WORK"
    declare -gA EXP_USER=() EXP_SECRET=()
}

# secret_for TAG N: a secret with JSON-significant bytes and a length that varies with N.
secret_for() {
    local pad
    pad=$(printf '%*s' $(($2 * 7 % 90)) '' | tr ' ' x)
    printf 's3cr3t/%s:%s+"q"\\b=%s' "$1" "$2" "$pad"
}

# json_str S: S as a JSON string (enough for the printable ASCII used here).
json_str() {
    local v=${1//\\/\\\\}
    v=${v//\"/\\\"}
    printf '"%s"' "$v"
}

# payload URL USER SECRET FILE: writes the store request to FILE.
payload() {
    printf '{"ServerURL":%s,"Username":%s,"Secret":%s}\n' \
        "$(json_str "$1")" "$(json_str "$2")" "$(json_str "$3")" >"$4"
}

# helper_store URL USER SECRET: one sequential store, remembered as expected.
helper_store() {
    payload "$1" "$2" "$3" "$WORK/seq.json"
    docker-credential-dockhand store <"$WORK/seq.json"
    EXP_USER[$1]=$2
    EXP_SECRET[$1]=$3
}

# spawn NAME VERB INPUTFILE: starts one helper in the background; see reap.
spawn() {
    local name=$1 verb=$2 in=$3
    docker-credential-dockhand "$verb" <"$in" >"$WORK/$name.out" 2>"$WORK/$name.err" &
    PIDS+=("$!")
    NAMES+=("$name")
}

# reap: waits for every spawned process; fails unless each exited 0 with no stdout.
reap() {
    local k bad=0
    for k in "${!PIDS[@]}"; do
        if ! wait "${PIDS[k]}"; then
            echo "${NAMES[k]} failed: stdout=[$(cat "$WORK/${NAMES[k]}.out")] stderr=[$(cat "$WORK/${NAMES[k]}.err")]"
            bad=1
        elif [ -s "$WORK/${NAMES[k]}.out" ]; then
            echo "${NAMES[k]} succeeded but wrote to stdout: [$(cat "$WORK/${NAMES[k]}.out")]"
            bad=1
        fi
    done
    PIDS=() NAMES=()
    return $bad
}

# check_store NAMESPACE: list is exactly the expected set and each entry reads
# back intact.  One get per entry, then a single jq compares everything.
check_store() {
    local ns=$1 url out list problems
    : >"$WORK/expected.tsv"
    : >"$WORK/got.tsv"
    for url in "${!EXP_USER[@]}"; do
        printf '%s\t%s\t%s\n' "$url" "${EXP_USER[$url]}" "${EXP_SECRET[$url]}" >>"$WORK/expected.tsv"
        out=$(DOCKHAND_NAMESPACE=$ns docker-credential-dockhand get <<<"$url" 2>"$WORK/get.err") ||
            { echo "get $url failed: $out $(cat "$WORK/get.err")"; return 1; }
        printf '%s\t%s\n' "$url" "$out" >>"$WORK/got.tsv"
    done
    list=$(DOCKHAND_NAMESPACE=$ns docker-credential-dockhand list </dev/null 2>"$WORK/list.err") ||
        { echo "list failed: $list $(cat "$WORK/list.err")"; return 1; }
    problems=$(jq -nr --argjson list "$list" --rawfile exp "$WORK/expected.tsv" --rawfile got "$WORK/got.tsv" '
        def rows($f): $f | split("\n") | map(select(length > 0) | split("\t"));
        (rows($exp) | map({key: .[0], value: [.[1], .[2]]}) | from_entries) as $want
        | (rows($got) | map({key: .[0], value: (.[1:] | join("\t") | fromjson | [.Username, .Secret])})
           | from_entries) as $gets
        | ($want | map_values(.[0])) as $wantlist
        | (if $list != $wantlist then
             "list differs: missing \($wantlist | keys - ($list | keys)), extra \($list | keys - ($wantlist | keys)), "
             + "wrong user \([$wantlist | to_entries[] | select($list[.key] != null and $list[.key] != .value) | .key])"
           else empty end),
          ($want | to_entries[] | select($gets[.key] != .value)
           | "get \(.key): want \(.value | tojson), got \($gets[.key] | tojson)")') || return 1
    [ -z "$problems" ] || { echo "namespace $ns: $problems" | head -n 20; return 1; }
}

# check_files: the store exists, holds no temporary file, and nothing in it is open to others.
check_files() {
    local leftovers
    [ -d "$STORE_DIR" ] || { echo "no store directory at $STORE_DIR"; return 1; }
    leftovers=$(find "$STORE_DIR" \( -iname '*tmp*' -o -iname '*temp*' -o -name '*~' \
        -o -name '*.new' -o -name '*.part*' \) -print)
    [ -z "$leftovers" ] || { echo "temporary files left: $(head -n 10 <<<"$leftovers")"; return 1; }
    leftovers=$(find "$STORE_DIR" -type f ! -perm 0600 -printf '%m %p\n')
    [ -z "$leftovers" ] || { echo "files not 0600: $leftovers"; return 1; }
    leftovers=$(find "$STORE_DIR" -type d -perm /077 -printf '%m %p\n')
    [ -z "$leftovers" ] || { echo "directories open to group/others: $leftovers"; return 1; }
    leftovers=$(find "$STORE_DIR" ! -type f ! -type d -printf '%y %p\n')
    [ -z "$leftovers" ] || { echo "unexpected entries: $leftovers"; return 1; }
}

@test "3 rounds of 40 stores and 10 erases in parallel on one namespace" {
    local r i url n
    PIDS=() NAMES=()
    # A sentinel in another namespace that no round may touch.
    DOCKHAND_NAMESPACE=default helper_store "sentinel.example.com" "watcher" "$(secret_for sentinel 1)"
    EXP_USER=() EXP_SECRET=()

    export DOCKHAND_NAMESPACE=conc
    for r in $(seq 1 "$ROUNDS"); do
        # Entries the round will erase, stored one by one first.
        for i in $(seq 1 "$ERASES"); do
            helper_store "pre-$r-$i.example.com" "pre-user-$i" "$(secret_for "pre$r" "$i")"
        done
        for i in $(seq 1 "$STORES"); do
            url="https://r$r-$i.example.com:$((5000 + i))"
            payload "$url" "user-$r-$i" "$(secret_for "r$r" "$i")" "$WORK/store-$r-$i.in"
            printf '%s\n' "pre-$r-$i.example.com" >"$WORK/erase-$r-$i.in"
        done
        # Launch all 50 together, an erase after every fourth store.
        for i in $(seq 1 "$STORES"); do
            spawn "store-$r-$i" store "$WORK/store-$r-$i.in"
            n=$((i / 4))
            if [ $((i % 4)) -eq 0 ] && [ "$n" -le "$ERASES" ]; then
                spawn "erase-$r-$n" erase "$WORK/erase-$r-$n.in"
            fi
        done
        [ "${#PIDS[@]}" -eq $((STORES + ERASES)) ]
        reap

        for i in $(seq 1 "$ERASES"); do
            unset "EXP_USER[pre-$r-$i.example.com]" "EXP_SECRET[pre-$r-$i.example.com]"
        done
        for i in $(seq 1 "$STORES"); do
            url="https://r$r-$i.example.com:$((5000 + i))"
            EXP_USER[$url]="user-$r-$i"
            EXP_SECRET[$url]=$(secret_for "r$r" "$i")
        done
        [ "${#EXP_USER[@]}" -eq $((r * STORES)) ]
        echo "# round $r"
        check_store conc
        check_files
    done

    EXP_USER=([sentinel.example.com]=watcher)
    EXP_SECRET=([sentinel.example.com]="$(secret_for sentinel 1)")
    check_store default
}

@test "20 parallel stores to the same registry leave exactly one of them, intact" {
    local i url=registry.same.example.com got user k
    PIDS=() NAMES=()
    export DOCKHAND_NAMESPACE=same
    # One earlier value to be replaced.
    helper_store "$url" "old-user" "old-secret"
    for i in $(seq 1 "$SAME_WRITERS"); do
        payload "$url" "user-$i" "$(secret_for same "$i")" "$WORK/same-$i.in"
    done
    for i in $(seq 1 "$SAME_WRITERS"); do
        spawn "same-$i" store "$WORK/same-$i.in"
    done
    reap

    run --separate-stderr docker-credential-dockhand list </dev/null
    [ "$status" -eq 0 ]
    [ "$(jq -c 'keys' <<<"$output")" = "[\"$url\"]" ]
    user=$(jq -r --arg u "$url" '.[$u]' <<<"$output")
    [[ "$user" =~ ^user-([0-9]+)$ ]]
    k=${BASH_REMATCH[1]}
    [ "$k" -ge 1 ]
    [ "$k" -le "$SAME_WRITERS" ]

    run --separate-stderr docker-credential-dockhand get <<<"$url"
    [ "$status" -eq 0 ]
    got=$(jq -c '[.Username, .Secret]' <<<"$output")
    [ "$got" = "$(jq -cn --arg u "user-$k" --arg s "$(secret_for same "$k")" '[$u, $s]')" ] ||
        { echo "winner user-$k, got $got"; false; }
    check_files
}
