/*
 * Step 1 of TR 23.701 5.2.2.5.2 for the Node WICs of interop/ (JsSIP, SIP.js): the web log-in at
 * the WWSF over HTTPS, trusting the test CA only, with the page's Origin. Resolves with the WWSF's
 * JSON answer (token, identity, the eP-CSCF to use); rejects with the HTTP status and the WWSF's
 * detail. CommonJS, so that both the CommonJS JsSIP program and the ES-module SIP.js one load it.
 */
'use strict';

const https = require('node:https');

function login({ origin, ca, username, password }) {
  const body = JSON.stringify({ username, password });
  const url = new URL('/login', origin);
  return new Promise((resolve, reject) => {
    const req = https.request(
      url,
      {
        method: 'POST',
        ca,
        headers: {
          'Content-Type': 'application/json',
          'Content-Length': Buffer.byteLength(body),
          Origin: origin,
        },
      },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          let parsed;
          try {
            parsed = JSON.parse(Buffer.concat(chunks).toString() || '{}');
          } catch (e) {
            reject(new Error(`WWSF login: HTTP ${res.statusCode}, body is not JSON`));
            return;
          }
          if (res.statusCode !== 200) {
            reject(new Error(`WWSF login refused (${res.statusCode}): ${parsed.detail || ''}`));
            return;
          }
          resolve(parsed);
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

module.exports = { login };
