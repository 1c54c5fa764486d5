// Verify a token with Node's jsonwebtoken against a certificate (or public key) PEM, as a
// relying party would: node verify.js TOKEN CERT.pem AUDIENCE. Prints the claims as JSON.
const jsonWebToken = require('jsonwebtoken');
const fs = require('fs');

const [token, certPath, audience] = process.argv.slice(2);
const claims = jsonWebToken.verify(token, fs.readFileSync(certPath), {
  algorithms: ['RS256', 'RS384', 'RS512'],
  audience,
});
console.log(JSON.stringify(claims));
