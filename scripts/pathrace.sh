#!/bin/sh
# pathrace.sh ENDPOINT N — the swap-loop race of issue 22 measured: a companion swaps ./d/sub
# between a directory and a symlink to a canary in the home directory while hpr creates the dev
# service that binds ./d/sub; N tries each with HPR_OLD (main's binary), bin/hpr granted
# (the re-check at create alone) and bin/hpr ungranted (the race rule). Run as the test user;
# prints leaked/refused counts (figures in the paths note).
ep=$1; n=$2
new=${HPR_BIN:-$(cd "$(dirname "$0")/.." && pwd)/bin/hpr}
old=${HPR_OLD:?set HPR_OLD to an older hpr}
c=$(mktemp -d ~/.race-canary-XXXX); echo "race-canary-$$-secret" > $c/secret; chmod 700 $c
p=$(mktemp -d ~/.race-proj-XXXX); mkdir -p $p/d/sub; echo harmless > $p/d/sub/secret
cat > $p/docker-compose.yml <<Y
services:
  dev:
    image: debian:bookworm-slim
    user: root
    volumes:
      - .:/app
      - ./d/sub:/x
    depends_on:
      swap:
        condition: service_started
    command: ["sh", "-c", "cat /x/secret"]
  swap:
    image: debian:bookworm-slim
    volumes:
      - .:/w
    command: ["sh", "-c", "while true; do rm -rf /w/d/sub; ln -s $c /w/d/sub; rm -f /w/d/sub; mkdir -p /w/d/sub; done"]
Y
for cfg in old new-granted new; do
  leaks=0; refused=0
  for i in $(seq $n); do
    rm -rf $p/d/sub; mkdir -p $p/d/sub; echo harmless > $p/d/sub/secret
    case $cfg in
      old) out=$(cd $p && "$old" run --engine $ep --service dev 2>&1) ;;
      new-granted) out=$(cd $p && "$new" run --engine $ep --service dev --allow bind:$p/d/sub 2>&1) ;;
      new) out=$(cd $p && "$new" run --engine $ep --service dev 2>&1) ;;
    esac
    rc=$?
    case $out in *race-canary-$$-secret*) leaks=$((leaks+1));; esac
    [ $rc = 125 ] && refused=$((refused+1))
  done
  echo "$ep $cfg: leaked $leaks/$n, refused (125) $refused/$n"
done
rm -rf $p $c
