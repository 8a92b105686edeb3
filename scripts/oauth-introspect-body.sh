#!/usr/bin/env bash
# Setup for scripts/instructions-per-request.sh: makes an M2M client on the server at $PORT, takes a
# client-credentials access token and prints the introspection body for it. With GARBLE=1 the
# token's header is garbled (same length), so the request stops before any key or database work:
# the cost of carrying this request shape through HTTP and JSON alone.
set -euo pipefail
base="http://127.0.0.1:$PORT"
call() { curl -sf -H 'cdi-version: 5.4' -H 'content-type: application/json' -X POST "$base$1" -d "$2"; }
client=$(call /recipe/oauth/clients '{"clientName":"ipr","grantTypes":["client_credentials"],"scope":"read","tokenEndpointAuthMethod":"client_secret_post"}')
id=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["clientId"])' <<< "$client")
secret=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["clientSecret"])' <<< "$client")
token=$(call /recipe/oauth/token "{\"iss\":\"http://localhost:3567\",\"inputBody\":{\"grant_type\":\"client_credentials\",\"client_id\":\"$id\",\"client_secret\":\"$secret\",\"scope\":\"read\"},\"access_token\":{},\"id_token\":{}}" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
if [ "${GARBLE:-0}" = 1 ]; then token="x${token:1}"; fi
python3 -c 'import json,sys; print(json.dumps({"token": sys.argv[1]}), end="")' "$token"
