#!/usr/bin/env bash
# End-to-end checks of the built command-line tools (debug build): each user-facing command on
# small generated inputs, its output and its exit status. Prints "smoke: N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
bin=.build/debug
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

pass=0
fail=0
# expect NAME STATUS COMMAND...: run COMMAND, require exit STATUS; output is kept in $tmp/out.
expect() {
  local name=$1 want=$2; shift 2
  "$@" >"$tmp/out" 2>&1
  local got=$?
  if [ "$got" -eq "$want" ]; then pass=$((pass + 1)); else
    fail=$((fail + 1)); echo "FAILED: $name (exit $got, wanted $want)"; sed 's/^/  | /' "$tmp/out"; fi
}
# contains NAME PATTERN: the last output matches PATTERN (extended regex).
contains() {
  if grep -Eq "$2" "$tmp/out"; then pass=$((pass + 1)); else
    fail=$((fail + 1)); echo "FAILED: $1: output does not match /$2/"; sed 's/^/  | /' "$tmp/out"; fi
}

"$bin/synthetic-capture" --count 3000 --seed 3 --out "$tmp/c.bin"
expect "capture stats on a clean capture" 0 "$bin/labeler" capture stats "$tmp/c.bin" --json
contains "capture stats --json keys" '^\{"messages":3000,"commit":[0-9]+,"identity":[0-9]+,"account":[0-9]+,"sync":[0-9]+,"info":0,.*"unknown":0,"ops":[0-9]+,"records":[0-9]+,"blocks":[0-9]+,"cid_mismatches":0,"errors":0,"seconds":[0-9.]+\}$'
gzip -c "$tmp/c.bin" > "$tmp/c.bin.gz"
expect "capture stats on gzip" 0 "$bin/labeler" capture stats "$tmp/c.bin.gz"
contains "capture stats table" '^messages +3000$'
head -c -7 "$tmp/c.bin" > "$tmp/truncated.bin"
expect "capture stats on a truncated capture exits 1" 1 "$bin/labeler" capture stats "$tmp/truncated.bin"
contains "truncated capture names the file" 'truncated.bin: file ends inside the record'
expect "capture stats on a missing file exits 1" 1 "$bin/labeler" capture stats "$tmp/none.bin"
contains "missing file is one line" '^Error: .*none.bin: cannot open: No such file or directory$'
# Synthetic commits carry random signatures over an empty tree: each fails its inversion proof
# (or its account is inactive) before any DID is resolved, so this needs no network.
expect "capture verify on unsigned synthetic commits exits 1" 1 "$bin/labeler" capture verify "$tmp/c.bin" --json
contains "capture verify counts the failures by reason" '^\{"messages":3000,"commits":[0-9]+,"verified":0,"without_proof":0,"failed":[1-9][0-9]*,"undecodable":0,.*"failed_by_reason":\{.*"proof_mismatch":[1-9][0-9]*'
expect "capture verify on a missing file exits 1" 1 "$bin/labeler" capture verify "$tmp/none.bin"
contains "capture verify: a missing file is one line" '^Error: .*none.bin: cannot open: No such file or directory$'

expect "keys generate" 0 "$bin/labeler" keys generate --out "$tmp/keys/k1"
contains "keys generate prints a secp256k1 did:key" '^did:key:zQ3s[1-9A-HJ-NP-Za-km-z]+$'
generated=$(cat "$tmp/out")
expect "key file mode is 0600" 0 test "$(stat -c %a "$tmp/keys/k1")" = 600
expect "keys show" 0 "$bin/labeler" keys show --key "$tmp/keys/k1"
expect "keys show prints the same did:key" 0 test "$(cat "$tmp/out")" = "$generated"
expect "keys generate refuses to overwrite" 1 "$bin/labeler" keys generate --out "$tmp/keys/k1"
contains "refusal says why" 'already exists; refusing to overwrite'
expect "keys generate p256" 0 "$bin/labeler" keys generate --type p256 --out "$tmp/keys/k2"
contains "p256 did:key" '^did:key:zDn'

expect "replay of a synthetic capture with the starter rules" 0 "$bin/labeler" replay "$tmp/c.bin" --rules rules --json
contains "replay summary keys" '^\{"events":[0-9]+,"commits":[0-9]+,"records":[0-9]+,"labels":[0-9]+,"errors":0,"seconds":[0-9.]+,"events_per_second":[0-9]+'
expect "replay prints a table without --json" 0 "$bin/labeler" replay "$tmp/c.bin" --rules rules --quiet
contains "the longest key has room for its value" '^negations_requested +[0-9]+$'
mkdir -p "$tmp/coffee-rules"
printf 'rules:\n  - id: coffee\n    on: [post]\n    match: {keywords: [coffee]}\n    label: coffee\n' > "$tmp/coffee-rules/coffee.yaml"
expect "replay stores signed labels and its cursor in --db" 0 "$bin/labeler" replay "$tmp/c.bin" --rules "$tmp/coffee-rules" --db "$tmp/r.sqlite" --key "$tmp/replay.key" --json
contains "labels were stored" '"labels_stored":[1-9][0-9]*,'
expect "the replay's key was created 0600" 0 test "$(stat -c %a "$tmp/replay.key")" = 600
expect "a second replay into the same database handles nothing again" 0 "$bin/labeler" replay "$tmp/c.bin" --rules "$tmp/coffee-rules" --db "$tmp/r.sqlite" --key "$tmp/replay.key" --json
contains "nothing handled twice" '^\{"events":0,.*"labels_stored":0,'
printf 'did: did:plc:smokelabeler\nrules:\n  path: %s\nstore:\n  path: %s\nsigning:\n  key: %s\n' "$tmp/coffee-rules" "$tmp/cfg.sqlite" "$tmp/cfg.key" > "$tmp/labeler.yaml"
expect "replay --config takes the rules, database, key and DID from the file" 0 "$bin/labeler" replay "$tmp/c.bin" --config "$tmp/labeler.yaml" --json
contains "labels were stored in the configured database" '"labels_stored":[1-9][0-9]*,'
expect "the configured DID is the labels' src" 0 "$bin/labeler" labels list --db "$tmp/cfg.sqlite" --src did:plc:smokelabeler --limit 1 --json
contains "a label from the configured DID" '"src":"did:plc:smokelabeler"'
expect "--version" 0 "$bin/labeler" --version
contains "--version prints the compiled-in VERSION" "^$(cat Sources/Labeler/VERSION)\$"
LABELER_LOG_FORMAT=json "$bin/labeler" replay "$tmp/c.bin" --rules "$tmp/coffee-rules" --db "$tmp/j.sqlite" --key "$tmp/j.key" --json 2>"$tmp/json.log" >/dev/null
expect "JSON logs: each line on standard error is one object with ts, level and msg" 0 python3 -c '
import json, sys
lines = open(sys.argv[1]).read().splitlines()
assert lines, "no log lines"
for line in lines:
    o = json.loads(line)
    assert isinstance(o, dict) and all(isinstance(o.get(k), str) for k in ("ts", "level", "msg")), line
    print(o["level"], o["msg"])
' "$tmp/json.log"
contains "JSON logs carry the key creation notice" '^notice created a signing key'
LABELER_LOG_FORMAT=json "$bin/labeler" replay "$tmp/c.bin" --rules "$tmp/coffee-rules" --db "$tmp/j2.sqlite" --key "$tmp/j2.key" --json --log-level error 2>"$tmp/quiet.log" >/dev/null
expect "--log-level error leaves out the notice" 0 test ! -s "$tmp/quiet.log"
expect "an unknown --log-level stops the command" 1 "$bin/labeler" replay "$tmp/c.bin" --log-level verbose
contains "the unknown level in one line" "^Error: --log-level verbose: use one of trace, debug, info, notice, warning, error, critical\$"
expect "an unknown log format stops the command" 1 env LABELER_LOG_FORMAT=xml "$bin/labeler" replay "$tmp/c.bin"
contains "the unknown log format in one line" "^Error: environment: LABELER_LOG_FORMAT: must be one of text, json, not 'xml'\$"
expect "stored labels are listed" 0 "$bin/labeler" labels stats --db "$tmp/r.sqlite" --json
contains "stats count the coffee labels" '"by_val":\{"coffee":[1-9][0-9]*\}'
expect "reports list on a database with no reports" 0 "$bin/labeler" reports list --db "$tmp/r.sqlite" --json --state open
expect "reports show of a missing report exits 1" 1 "$bin/labeler" reports show 7 --db "$tmp/r.sqlite"
contains "a missing report is one line" '^Error: no report 7$'
expect "labels retract needs to be told which labels" 64 "$bin/labeler" labels retract --db "$tmp/r.sqlite" --key "$tmp/replay.key"
contains "the missing criteria in one line" 'say which labels: --rule, --val or --uri'
expect "labels retract --dry-run counts and changes nothing" 0 "$bin/labeler" labels retract --val coffee --dry-run --json --db "$tmp/r.sqlite" --key "$tmp/replay.key"
contains "the dry run's count and samples" '^\{"criteria":"val=coffee","count":[1-9][0-9]*,"samples":\[\{"uri":'
expect "labels retract negates them" 0 "$bin/labeler" labels retract --val coffee --json --db "$tmp/r.sqlite" --key "$tmp/replay.key"
contains "every coffee label negated" '^\{"retraction":1,"criteria":"val=coffee","targets":([0-9]+),"negated":\1,"skipped":0,"queued":0,"resumed":false\}$'
expect "after the retraction no coffee label is applied" 0 "$bin/labeler" labels stats --db "$tmp/r.sqlite" --json
contains "stats show none" '"by_val":\{\}'
# Budgets: a rule's limits trip it; status shows it; reset clears it; the global budget queues.
mkdir -p "$tmp/capped-rules"
printf 'rules:\n  - id: capped\n    on: [post]\n    match: {regex: "[a-z]"}\n    label: capped\n    limits: {per_hour: 5}\n' > "$tmp/capped-rules/capped.yaml"
expect "replay with a budgeted rule" 0 "$bin/labeler" replay "$tmp/c.bin" --rules "$tmp/capped-rules" --db "$tmp/b.sqlite" --key "$tmp/b.key" --json
contains "the rule tripped and the rest was withheld" '"labels_stored":5,.*"withheld":[1-9][0-9]*,"rules_tripped":\["capped"\]'
expect "rules status on the tripped rule" 0 "$bin/labeler" rules status --rules "$tmp/capped-rules" --db "$tmp/b.sqlite" --json
contains "status says tripped, with its limits" '^\{"rules":\[\{"id":"capped","tripped":true,"per_minute":[0-9]+,"per_hour":[0-9]+,"per_day":[0-9]+,"limits":\{"per_hour":5\},"trip":\{"window":"hour","limit":5,'
expect "rules status as a table" 0 "$bin/labeler" rules status --rules "$tmp/capped-rules" --db "$tmp/b.sqlite"
contains "the table names the reset" 'TRIPPED at .*labeler rules reset capped'
expect "rules reset" 0 "$bin/labeler" rules reset capped --db "$tmp/b.sqlite"
contains "reset says what it dropped" '^reset capped: tripped at .* \(over 5/hour\)'
expect "rules status after the reset" 0 "$bin/labeler" rules status --rules "$tmp/capped-rules" --db "$tmp/b.sqlite" --json
contains "no longer tripped" '"id":"capped","tripped":false'
printf 'rules:\n  - id: capped\n    on: [post]\n    match: {regex: x}\n    label: capped\n    limits: {per_hour: 0}\n' > "$tmp/bad-limits.yaml"
mkdir -p "$tmp/bad-limits" && mv "$tmp/bad-limits.yaml" "$tmp/bad-limits/r.yaml"
expect "a limit of 0 does not load" 1 "$bin/labeler" rules check "$tmp/bad-limits"
contains "the bad limit's place" 'r.yaml:6:24: limits per_hour must be at least 1'
expect "retract under a global budget of 1 a second queues the rest" 0 env LABELER_LIMITS_LABELS_PER_SECOND=1 "$bin/labeler" labels retract --val capped --json --db "$tmp/b.sqlite" --key "$tmp/b.key"
contains "some negations queued for the service" '"targets":5,"negated":[1-4],"skipped":0,"queued":[1-4],'
expect "rules status shows the queue" 0 "$bin/labeler" rules status --rules "$tmp/capped-rules" --db "$tmp/b.sqlite" --json
contains "queued negations counted" '"global":\{"per_second":[0-9]+,"per_hour":[0-9]+,"per_day":[0-9]+,"limits":null,"queued":[1-4]\}'
expect "reports mute for a while" 0 "$bin/labeler" reports mute did:plc:smokereporter --for 30d --note floods --db "$tmp/r.sqlite"
contains "the mute says until when" '^muted did:plc:smokereporter until 20[0-9]{2}-[0-9]{2}-[0-9]{2}T'
expect "reports list --muted" 0 "$bin/labeler" reports list --muted --db "$tmp/r.sqlite"
expect "reports mutes" 0 "$bin/labeler" reports mutes --json --db "$tmp/r.sqlite"
contains "reports mutes lists the mute" '^\{"did":"did:plc:smokereporter","until":"20[^"]+","actor":"[^"]+","note":"floods","created_at":"[^"]+"\}$'
expect "reports unmute" 0 "$bin/labeler" reports unmute did:plc:smokereporter --db "$tmp/r.sqlite"
contains "unmuted" '^unmuted did:plc:smokereporter$'
expect "unmuting a reporter that is not muted exits 1" 1 "$bin/labeler" reports unmute did:plc:smokereporter --db "$tmp/r.sqlite"
contains "not muted is one line" '^Error: did:plc:smokereporter is not muted$'
expect "reports mute with a bad DID exits 64" 64 "$bin/labeler" reports mute alice --db "$tmp/r.sqlite"
expect "reports mute with a bad duration exits 64" 64 "$bin/labeler" reports mute did:plc:smokereporter --for soon --db "$tmp/r.sqlite"
# Two reports as createReport stores them, in the configured database (DID did:plc:smokelabeler).
python3 - "$tmp/cfg.sqlite" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
for subject in ("did:plc:smokespammer", "did:plc:smokeother"):
    db.execute(
        "INSERT INTO report (reason_type, subject_type, subject, reported_by, state, created_at, updated_at)"
        " VALUES ('com.atproto.moderation.defs#reasonSpam', 'account', ?, 'did:plc:smokereporter', 'open',"
        " '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z')", (subject,))
db.commit()
PY
expect "reports resolve --label labels the subject through the writer" 0 "$bin/labeler" reports resolve 1 --label spam --exp 7d --note "seen it" --config "$tmp/labeler.yaml"
contains "the resolution names the label's seq" '^report 1 resolved: applied spam \(seq [0-9]+\)$'
expect "labels explain after a resolution" 0 "$bin/labeler" labels explain did:plc:smokespammer --config "$tmp/labeler.yaml"
contains "labels explain names the report and the note" 'apply spam  manual by .*  report 1  reason: seen it$'
expect "a resolved report is not resolved again" 1 "$bin/labeler" reports resolve 1 --dismiss --config "$tmp/labeler.yaml"
contains "already resolved is one line" '^Error: report 1 is already resolved$'
expect "reports resolve --negate of a label the subject does not have exits 1" 1 "$bin/labeler" reports resolve 2 --negate spam --config "$tmp/labeler.yaml"
contains "no such label is one line" '^Error: did:plc:smokeother has no label spam to negate$'
expect "reports resolve needs exactly one action" 64 "$bin/labeler" reports resolve 2 --dismiss --label spam --config "$tmp/labeler.yaml"
expect "reports resolve --dismiss" 0 "$bin/labeler" reports resolve 2 --dismiss --note "not spam" --config "$tmp/labeler.yaml"
contains "dismissed" '^report 2 dismissed$'
expect "reports list --state resolved" 0 "$bin/labeler" reports list --state resolved --json --config "$tmp/labeler.yaml"
contains "the resolved report is listed" '^\{"id":1,.*"state":"resolved"'
expect "reports show after a resolution" 0 "$bin/labeler" reports show 1 --config "$tmp/labeler.yaml"
contains "the history has the resolution" 'resolved by .*  "applied spam \(seq [0-9]+\)"  note: seen it$'
# The labeled account appeals, linked to its label as createReport links it.
python3 - "$tmp/cfg.sqlite" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute(
    "INSERT INTO report (reason_type, subject_type, subject, reported_by, state, created_at, updated_at)"
    " VALUES ('com.atproto.moderation.defs#reasonAppeal', 'account', 'did:plc:smokespammer',"
    " 'did:plc:smokespammer', 'open', '2026-01-02T00:00:00.000Z', '2026-01-02T00:00:00.000Z')")
db.execute(
    "INSERT INTO report_label (report_id, seq, src, uri, cid, val) SELECT 3, seq, src, uri, NULL, val FROM label"
    " WHERE uri = 'did:plc:smokespammer' AND val = 'spam'")
db.commit()
PY
expect "reports show of an appeal" 0 "$bin/labeler" reports show 3 --config "$tmp/labeler.yaml"
contains "the appeal names the label it is about" '^appeals    spam \(seq [0-9]+\)$'
expect "reports resolve --negate grants the appeal" 0 "$bin/labeler" reports resolve 3 --negate spam --config "$tmp/labeler.yaml"
contains "the label is negated" '^report 3 resolved: negated spam \(seq [0-9]+\)$'
expect "labels explain after the appeal" 0 "$bin/labeler" labels explain did:plc:smokespammer --config "$tmp/labeler.yaml"
contains "the negation says why" 'negate spam  manual by .*  report 3  reason: appeal 3 granted$'

expect "rules check on the starter rules" 0 "$bin/labeler" rules check rules
contains "rules check summary" '^ok: [0-9]+ rules'
contains "the starter rules' values are defined in rules/labels.yaml" '^ok: .*, [0-9]+ label definitions$'
mkdir -p "$tmp/labelrules"
cp rules/labels.yaml "$tmp/labelrules/"
printf 'rules:\n  - id: undefined\n    on: [post]\n    match: {keywords: [x]}\n    label: spam-bot\n  - id: hider\n    on: [post]\n    match: {keywords: [y]}\n    label: "!hide"\n' > "$tmp/labelrules/r.yaml"
expect "rules check rejects a value labels.yaml does not define" 1 "$bin/labeler" rules check "$tmp/labelrules"
contains "the undefined value at its label" "r.yaml:5:12: label value 'spam-bot' is not defined in labels.yaml \\($tmp/labelrules/labels.yaml\\)"
sed -i 's/spam-bot/spam/' "$tmp/labelrules/r.yaml"
expect "a global value loads, with a warning" 0 "$bin/labeler" rules check "$tmp/labelrules"
contains "the global value's warning" "r.yaml:9:12: warning: label '!hide' is a global value"
expect "rules test on the starter rules" 0 "$bin/labeler" rules test rules
contains "rules test passes" ' passed, 0 failed$'
contains "rules test scores the starter rules on their labeled samples" '^[0-9]+ labeled samples$'
mkdir -p "$tmp/badrules"
printf 'rules:\n  - id: broken\n    on: [post]\n    match: {regex: "free(crypto"}\n    label: spam\n  - id: Bad-Label\n    match: {keywords: [x]}\n    label: NotALabel\n' > "$tmp/badrules/bad.yaml"
expect "rules check on broken rules exits 1" 1 "$bin/labeler" rules check "$tmp/badrules"
contains "regex error points inside the pattern" 'bad.yaml:4:[0-9]+: '
contains "label error has its position" 'bad.yaml:8:[0-9]+: '
expect "rules eval shows the rule and the matched text" 0 "$bin/labeler" rules eval --rules rules --text "claim your free-crypto-giveaway now"
contains "eval names the firing rule" 'crypto-giveaway'
mkdir -p "$tmp/reportrules/tests"
printf 'rules:\n  - id: pile-up\n    on: [report]\n    match: {all: [{reason_types: [spam, misleading*]}, {reporter: {dismissed_at_most: 3}}]}\n    threshold: {count: 5, within: 24h}\n    label: needs-review\n    escalate: true\n' > "$tmp/reportrules/r.yaml"
printf 'cases:\n  - name: fifth\n    report: {reason_type: spam}\n    counts: {pile-up: 4}\n    expect: [needs-review]\n    expect_escalate: true\n  - name: fourth\n    report: {reason_type: misleadingscam}\n    counts: {pile-up: 3}\n    expect: none\n    expect_escalate: false\n' > "$tmp/reportrules/tests/t.yaml"
expect "rules test runs report cases against rules on reports" 0 "$bin/labeler" rules test "$tmp/reportrules"
contains "both report cases pass" '^2 passed, 0 failed$'
printf 'rules:\n  - id: mixed\n    on: [post, report]\n    match: {reason_types: [spam]}\n    label: x\n' > "$tmp/reportrules/r.yaml"
expect "a rule on reports and posts at once is refused" 1 "$bin/labeler" rules check "$tmp/reportrules"
contains "the mixed kinds are named where they are" "r.yaml:3:9: 'report' cannot be combined with other kinds"
mkdir -p "$tmp/quality/tests"
printf 'rules:\n  - id: coffee\n    on: [post]\n    match: {keywords: [coffee]}\n    label: coffee\n    min_precision: 0.9\n    min_recall: 0.5\n' > "$tmp/quality/r.yaml"
printf '{"record": {"text": "coffee time"}, "expect": ["coffee"]}\n{"record": {"text": "coffee spill"}, "expect": []}\n{"record": {"text": "espresso"}, "expect": ["coffee"]}\n' > "$tmp/quality/tests/s.jsonl"
expect "rules test fails a rule below its min_precision on labeled samples" 1 "$bin/labeler" rules test "$tmp/quality"
contains "the failing rule is named with its figures" "^FAIL rule coffee: precision 0.5 is below its min_precision 0.9 \\(1 of its 2 hits expect 'coffee'\\)$"
sed -i 's/min_precision: 0.9/min_precision: 0.5/' "$tmp/quality/r.yaml"
expect "rules test passes a rule that meets its minimums" 0 "$bin/labeler" rules test "$tmp/quality" --json
contains "rules test --json has the rule's figures" '"rules":\{"coffee":\{"value":"coffee","tp":1,"fp":1,"fn":1,"precision":0.5,"recall":0.5,"f1":0.5,"min_precision":0.5,"min_recall":0.5\}\},"values":\{"coffee":\{"rules":\["coffee"\],"tp":1,"fp":1,"fn":1,'
printf '{"record": {"text": "x"}, "expected": []}\n' > "$tmp/bad.jsonl"
expect "rules test on a malformed sample file exits 1" 1 "$bin/labeler" rules test "$tmp/quality" --samples "$tmp/bad.jsonl"
contains "the malformed line is named" "bad.jsonl:1: unknown key 'expected' in a sample"
mkdir -p "$tmp/canary"
printf 'rules:\n  - id: canary\n    on: [post]\n    match: {keywords: [coffee]}\n    label: coffee\n    rollout: 0%%\n' > "$tmp/canary/r.yaml"
expect "rules eval: a rule rolled out to 0% of accounts only logs" 0 "$bin/labeler" rules eval --rules "$tmp/canary" --text "coffee"
contains "the canary's label is a dry run" 'would label coffee'
expect "replay with a rule rolled out to 0% of accounts" 0 "$bin/labeler" replay "$tmp/c.bin" --rules "$tmp/canary" --json --quiet
contains "the canary's hits are all dry runs" '"labels":0,.*"dry_run":[1-9][0-9]*,'
sed -i 's/rollout: 0%/rollout: 150%/' "$tmp/canary/r.yaml"
expect "rules check rejects a rollout over 100%" 1 "$bin/labeler" rules check "$tmp/canary"
contains "the rollout error has its place" "r.yaml:6:14: invalid rollout '150%'"
mkdir -p "$tmp/coffee-rain-rules"
printf 'rules:\n  - id: coffee\n    on: [post]\n    match: {keywords: [coffee, rain]}\n    label: coffee\n' > "$tmp/coffee-rain-rules/coffee.yaml"
expect "rules diff between two rule folders" 0 "$bin/labeler" rules diff "$tmp/c.bin" --from "$tmp/coffee-rules" --to "$tmp/coffee-rain-rules" --json --quiet
contains "rules diff --json counts, in total and per rule" '^\{"added":[1-9][0-9]*,"removed":0,"unchanged":[1-9][0-9]*,"rules":\{"coffee":\{"added":[1-9][0-9]*,"removed":0,"unchanged":[1-9][0-9]*,"samples":\{"added":\[\{"uri":"at://'
expect "rules diff prints a table" 0 "$bin/labeler" rules diff "$tmp/c.bin" --from "$tmp/coffee-rules" --to "$tmp/coffee-rain-rules" --quiet
contains "the table has a total" '^total +\+[1-9][0-9]* +-0 +[1-9][0-9]*$'
expect "rules diff --from-db compares with the database" 0 "$bin/labeler" rules diff "$tmp/c.bin" --from-db --to "$tmp/coffee-rain-rules" --config "$tmp/labeler.yaml" --json --quiet
contains "the database's coffee labels are all still there" '^\{"added":[1-9][0-9]*,"removed":0,'
expect "rules diff with rules that do not load exits 1" 1 "$bin/labeler" rules diff "$tmp/c.bin" --from "$tmp/coffee-rules" --to "$tmp/badrules" --quiet
contains "one line names the folder" "^Error: $tmp/badrules: the rules do not load \\([0-9]+ problems\\)$"

mkdir -p "$tmp/ops" && cd "$tmp/ops"
expect "labels stats without a database exits 1" 1 "$OLDPWD/$bin/labeler" labels stats
contains "missing database is one line" '^Error: data/labels.sqlite: no such database'
printf 'store:\n  path: elsewhere.sqlite\n' > other.yaml
expect "labels stats --config reads that file's database" 1 "$OLDPWD/$bin/labeler" labels stats --config other.yaml
contains "the configured database is named" '^Error: elsewhere.sqlite: no such database'
expect "LABELER_CONFIG selects the file" 1 env LABELER_CONFIG=other.yaml "$OLDPWD/$bin/labeler" labels stats
contains "the file from LABELER_CONFIG is used" '^Error: elsewhere.sqlite: no such database'
expect "a missing LABELER_CONFIG file stops the command" 1 env LABELER_CONFIG=missing.yaml "$OLDPWD/$bin/labeler" labels stats
contains "a missing configuration file is one line" '^Error: missing.yaml: no such configuration file'
expect "label add without a key exits 1" 1 "$OLDPWD/$bin/labeler" label add at://did:plc:abc/app.bsky.feed.post/3k2 spam --allow-did-key-src
"$OLDPWD/$bin/labeler" keys generate >/dev/null
expect "label add with no DID needs --allow-did-key-src" 1 "$OLDPWD/$bin/labeler" label add at://did:plc:abc/app.bsky.feed.post/3k2 spam
contains "the refusal says why" 'no DID configured: .*--allow-did-key-src'
expect "label add" 0 "$OLDPWD/$bin/labeler" label add at://did:plc:abc/app.bsky.feed.post/3k2 spam --reason smoke --allow-did-key-src
contains "label add prints the signed label" '^seq 1: \{"cts":"[^"]+","sig":\{"\$bytes":"[A-Za-z0-9+/]+"\},"src":"did:key:zQ3s'
expect "label negate" 0 "$OLDPWD/$bin/labeler" label negate at://did:plc:abc/app.bsky.feed.post/3k2 spam --allow-did-key-src
contains "negation carries neg" '"neg":true'
expect "label add with a bad value exits 64" 64 "$OLDPWD/$bin/labeler" label add did:plc:abc Bad
expect "labels list --json" 0 "$OLDPWD/$bin/labeler" labels list --json --uri 'at://did:plc:abc/*'
contains "list shows the negation" '"neg":true'
expect "labels explain" 0 "$OLDPWD/$bin/labeler" labels explain at://did:plc:abc/app.bsky.feed.post/3k2
contains "explain shows who and why" 'apply spam  manual by .*reason: smoke'
expect "labels stats --json" 0 "$OLDPWD/$bin/labeler" labels stats --json
contains "stats keys" '^\{"labels":0,"negated":1,"last_seq":2,"cursor":null,.*"by_val":\{\},"by_rule":\{"manual":1\}\}$'
cd "$OLDPWD"

# Going live, with nothing reachable: doctor says what is missing, declare stops at the first gap.
printf 'did: ""\nsource: {url: "ws://127.0.0.1:1"}\nidentity: {timeout: 2s}\nrules: {path: rules}\nstore: {path: "%s/live.sqlite"}\nsigning: {key: "%s/live.key"}\n' "$tmp" "$tmp" >"$tmp/live.yaml"
expect "doctor exits 1 when a check fails" 1 "$bin/labeler" doctor --config "$tmp/live.yaml" --json
contains "doctor --json names every check" '^\{"checks":\[\{"message":"the configuration loads","name":"config","ok":true\},.*"name":"relay".*\],"ok":false\}$'
expect "doctor prints a line per check" 1 "$bin/labeler" doctor --config "$tmp/live.yaml"
contains "doctor says how to fix the DID" '^✘ did_document: did is empty: set it'
contains "the starter values are all defined" '^✔ label_values: '
expect "declare without a DID is one line" 1 "$bin/labeler" declare --config "$tmp/live.yaml" --dry-run
contains "declare says what is missing" '^Error: did is empty'

expect "decode benchmark smoke" 0 "$bin/decode-bench" --synthetic 2000 --rounds 1
contains "benchmark reports every level with no failures" 'verified +[0-9]+ msg/s +[0-9.]+ MB/s +0 failures'

expect "rules benchmark smoke (lists of 1,000 and 10,000 entries)" 0 "$bin/rules-bench" --smoke
contains "list benchmark reports domains against Python" '^  domains +10000 +([0-9]+ ms|n/a) +[0-9]+ ms'
contains "list benchmark reports phrases" '^  phrases +10000 '

expect "createReport benchmark smoke (200 reports/s for 2 s, warm DID cache, rules on reports)" 0 "$bin/report-bench" --smoke --rules
contains "report benchmark answers and stores every report" '^requests: 400 in [0-9.]+ s = [0-9]+/s; answers 200: 400; stored 400; '
contains "report benchmark reports the latency percentiles" '^latency ms: p50 [0-9.]+ p90 [0-9.]+ p99 [0-9.]+ max [0-9.]+$'
contains "the rules on reports evaluate every report, the threshold fires and escalates" '^rules: 420 reports evaluated, .*fired every-report 420, pile-up 240; .*escalated 400, failures 0$'

expect "replay benchmark smoke (reference rules + 1,000 keywords)" 0 bash scripts/bench-replay.sh --smoke
contains "replay benchmark stores the planted labels" '"labels_stored":[1-9][0-9]*'
contains "replay benchmark reports peak RSS" '^peak RSS [0-9]+ KB$'

expect "live benchmark smoke (labeler run against a paced relay, one subscriber)" 0 bash scripts/bench-live.sh --smoke
contains "live benchmark reports CPU per event, latency and a clean stop" '^200 +labeler +[0-9.]+ +[0-9.]+% +[0-9.]+ +[0-9.]+ +[0-9.]+ +[0-9.]+ '

echo "smoke: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
