/** The first-run text: where smsgw listens and a copy-paste sequence that sends a first message. */
export function startBanner(url: string, adminToken: string, tokenNote: string, dbNote: string): string {
  const json = (field: string) => `node -pe 'JSON.parse(require("fs").readFileSync(0)).${field}'`
  return `
smsgw is running at ${url}   (${dbNote})
  admin token: ${adminToken}   (${tokenNote})
  API docs:    ${url}/docs
  dashboard:   ${url}/dashboard   (sign in with the admin token)

Send a first message (copy-paste into a shell):

  export SMSGW=${url} ADMIN=${adminToken}
  curl -s -X PUT $SMSGW/v1/admin/rates -H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' \\
    -d '{"currency":"USD","default":"0.0100","countries":{"US":"0.0079","GB":"0.0350"}}'
  CUSTOMER_JSON=$(curl -s -X POST $SMSGW/v1/admin/customers -H "Authorization: Bearer $ADMIN" \\
    -H 'Content-Type: application/json' -d '{"name":"Acme"}')
  CUSTOMER=$(echo "$CUSTOMER_JSON" | ${json('id')}); KEY=$(echo "$CUSTOMER_JSON" | ${json('api_key')})
  curl -s -X POST $SMSGW/v1/admin/customers/$CUSTOMER/credits -H "Authorization: Bearer $ADMIN" \\
    -H 'Content-Type: application/json' -d '{"amount":"10.00","reference":"first-topup"}'
  MESSAGE=$(curl -s -X POST $SMSGW/v1/messages -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \\
    -H "Idempotency-Key: $(node -pe 'crypto.randomUUID()')" \\
    -d '{"to":"+14155550123","from":"ACME","body":"Hello from smsgw"}' | ${json('id')}); echo "message $MESSAGE"
  sleep 2; curl -s $SMSGW/v1/messages/$MESSAGE -H "Authorization: Bearer $KEY"; echo
  curl -s $SMSGW/v1/balance -H "Authorization: Bearer $KEY"
`
}
