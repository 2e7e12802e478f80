// Writes a cosign encrypted private key (PEM "ENCRYPTED SIGSTORE PRIVATE KEY") as cosign's Go code
// does, but with none of ours: node's own scrypt, and tweetnacl's secretbox (NaCl's, the tag
// before the ciphertext, as Go's secretbox.Seal). The tests decrypt it with lib/trust.
// Usage: COSIGN_PASSWORD=... TWEETNACL_DIR=... node cosign-encrypt.js KEY.der OUT.pem LABEL N
'use strict';
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const nacl = require(path.join(process.env.TWEETNACL_DIR, 'node_modules', 'tweetnacl'));

const [der, out, label, n] = process.argv.slice(2);
const N = Number(n);
const salt = crypto.randomBytes(32);
const nonce = crypto.randomBytes(24);
const key = crypto.scryptSync(Buffer.from(process.env.COSIGN_PASSWORD, 'utf8'), salt, 32,
    { N, r: 8, p: 1, maxmem: 512 * 1024 * 1024 });
const box = nacl.secretbox(new Uint8Array(fs.readFileSync(der)), new Uint8Array(nonce), new Uint8Array(key));
// go-securesystemslib's field names and order; Go encodes []byte as standard base64
const json = JSON.stringify({
    kdf: { name: 'scrypt', params: { N, r: 8, p: 1 }, salt: salt.toString('base64') },
    cipher: { name: 'nacl/secretbox', nonce: nonce.toString('base64') },
    ciphertext: Buffer.from(box).toString('base64'),
});
const body = Buffer.from(json).toString('base64').match(/.{1,64}/g).join('\n');
fs.writeFileSync(out, `-----BEGIN ${label}-----\n${body}\n-----END ${label}-----\n`);
