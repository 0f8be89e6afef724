#!/usr/bin/env node
// SPDX-License-Identifier: MIT
//
// The independent reference for hsmjwt's v2 tokens: Node's own JSON.stringify
// and crypto, as the Mobile Services issuer scripts used them. Nothing here
// comes from hsmjwt's code. Writes vectors.json (next to this file, or the
// path given) deterministically: re-running it yields the same bytes.
//
//   node tests/vectors/generate.js [OUTPUT]
//
// Each case is a request (structured claims, or a v1 claim set as JSON text)
// and what the reference issues for it: header and payload JSON and the
// whole token. Expiry: cases are built at exp = EXP_BASE; a v1 claim set
// writes its exp as the placeholder __EXP__ (with any suffix, e.g.
// "__EXP__.5"), replaced by EXP_BASE here. The test replays every case with
// a base of its own, in the future, and README.md explains how it derives
// the expected token from these.
'use strict';

const crypto = require('crypto');
const fs = require('fs');
const path = require('path');

const MASTER = 'shared-vector-1 master key';
const ISSUER = 'urn:microsoft:windows-azure:zumo';
const EXP_BASE = 1767225600; // 2026-01-01T00:00:00Z, spec vector 1's exp
const FIXED = new Set(['exp', 'iss', 'ver', 'aud', 'uid', 'urn:microsoft:credentials']);
const CRED = 'urn:microsoft:credentials';

const signingKey = crypto.createHash('sha256')
  .update(Buffer.concat([Buffer.from(MASTER, 'utf8'), Buffer.from('JWTSig', 'utf8')]))
  .digest();

function b64url(s) {
  return Buffer.from(s, 'utf8').toString('base64url');
}

function sign(payloadObject) {
  const header = JSON.stringify({ alg: 'HS256', typ: 'JWT', kid: '0' });
  const payload = JSON.stringify(payloadObject);
  const input = b64url(header) + '.' + b64url(payload);
  const mac = crypto.createHmac('sha256', signingKey).update(input, 'utf8').digest('base64url');
  return { header, payload, token: input + '.' + mac };
}

// ---- the two ways a token is asked for ----

// Structured: aud, uid, optional access token, typed extras in order.
function structured(name, aud, uid, accessToken, claims = []) {
  const p = { exp: EXP_BASE, iss: ISSUER, ver: 2, aud, uid };
  if (accessToken !== undefined)
    p[CRED] = { accessToken };
  for (const [n, , v] of claims)
    p[n] = v;
  const request = { aud, uid, claims };
  if (accessToken !== undefined)
    request.access_token = accessToken;
  return { name, kind: 'claims', request, ...sign(p) };
}

// v1: what a runtime doing the upgrade with JSON.parse would issue.
function legacy(name, text, { requestExpiry = false } = {}) {
  const v1 = JSON.parse(text.replace(/__EXP__/g, String(EXP_BASE)));
  const p = {};
  p.exp = 'exp' in v1 ? Math.floor(v1.exp) : EXP_BASE;
  p.iss = ISSUER;
  p.ver = 2;
  p.aud = v1.aud;
  p.uid = v1.uid;
  if (CRED in v1) {
    const c = typeof v1[CRED] === 'string' ? JSON.parse(v1[CRED]) : v1[CRED];
    p[CRED] = { accessToken: c.accessToken };
  }
  for (const k of Object.keys(v1))
    if (!FIXED.has(k))
      p[k] = v1[k];
  const c = { name, kind: 'legacy', legacy: text, ...sign(p) };
  if (requestExpiry)
    c.request_expiry = true;
  return c;
}

// ---- deterministic pseudo-random cases (mulberry32) ----

function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ALPHABET = [
  'a', 'Z', '0', ' ', '"', '\\', '/', '\u007f', '\u0080', '\u009f', '\u00a0', '\u00e9', '\u00ff',
  '\u0100', '\u0301', '\u05d0', '\u200d', '\u2028', '\u2029', '\u202e', '\u20ac', '\u3042',
  '\ud7ff', '\ue000', '\ufeff', '\ufffd', '\uffff', '\u{10000}', '\u{1d11e}', '\u{1f600}',
  '\u{10ffff}', '<', '>', '&', "'", '\b', '\f', '\n', '\r', '\t', '\u0001', '\u001f', '\u000b',
];

function randomString(r, max) {
  let s = '';
  const n = Math.floor(r() * max);
  for (let i = 0; i < n; i++)
    s += ALPHABET[Math.floor(r() * ALPHABET.length)];
  return s;
}

function randomClaims(r, prefix) {
  const out = [];
  const n = Math.floor(r() * 5);
  for (let i = 0; i < n; i++) {
    const name = prefix + i + randomString(r, 4);
    switch (Math.floor(r() * 4)) {
    case 0:
      out.push([name, 'string', randomString(r, 12)]);
      break;
    case 1:
      out.push([name, 'integer', Math.floor((r() - 0.5) * 2 * Number.MAX_SAFE_INTEGER)]);
      break;
    case 2:
      out.push([name, 'boolean', r() < 0.5]);
      break;
    default:
      out.push([name, 'list', Array.from({ length: Math.floor(r() * 4) }, () => randomString(r, 6))]);
    }
  }
  return out;
}

// ---- the cases ----

const cases = [];
const hex2 = (c) => c.toString(16).padStart(2, '0');

// Every control character, in every place a request can put text.
for (let c = 1; c < 0x20; c++) {
  const ch = String.fromCharCode(c);
  cases.push(structured(`control-${hex2(c)}-everywhere`, 'Cu' + ch + 'stom', 'Custom:' + ch,
    'at' + ch, [['n' + ch, 'string', ch], ['list', 'list', [ch, ch + ch]]]));
}
// ... and through a v1 claim set, written with escapes as JSON text must (alternating hex case).
for (let c = 1; c < 0x20; c++) {
  const esc = '\\u00' + (c % 2 ? hex2(c).toUpperCase() : hex2(c));
  cases.push(legacy(`legacy-control-${hex2(c)}-escaped`,
    `{"exp":__EXP__,"iss":"${ISSUER}","ver":1,"aud":"Custom","uid":"Custom:${esc}",` +
    `"urn:microsoft:credentials":{"accessToken":"x${esc}"},"k${esc}":"${esc}"}`));
}
// The short escapes written by hand, and the two characters that must be escaped.
cases.push(legacy('legacy-short-escapes', `{"exp":__EXP__,"ver":1,"aud":"A\\b\\f\\n\\r\\t",` +
  `"uid":"A:\\"\\\\\\/","s":"\\b\\f\\n\\r\\t\\"\\\\\\/"}`));
cases.push(structured('del-and-c1', 'A\u007f', 'A:\u0080\u0085\u009f', '\u007f\u0080',
  [['c1', 'string', Array.from({ length: 32 }, (_, i) => String.fromCharCode(0x80 + i)).join('')]]));
cases.push(structured('quote-backslash-slash', 'A"\\/', 'A:"\\/"', '"\\/', [['q"\\/', 'string', '"\\/']]));
cases.push(structured('html-characters-stay-raw', '<script>', "A:</script>&'", '<>&\'',
  [['<&>', 'string', '<!--&amp;-->']]));

// Text beyond ASCII: each special in uid, access token, a name and a value, raw and as escapes.
const SPECIALS = {
  'latin1': '\u00e9\u00ff\u00a0', 'nfd': 'e\u0301', 'hebrew': '\u05e9\u05dc\u05d5\u05dd',
  'rtl-override': '\u202eabc', 'zwj': '\u200d', 'line-separator': '\u2028', 'paragraph-separator':
  '\u2029', 'euro': '\u20ac', 'cjk': '\u65e5\u672c\u8a9e', 'hiragana': '\u3042', 'last-bmp-before-surrogates':
  '\ud7ff', 'private-use': '\ue000', 'bom': '\ufeff', 'replacement': '\ufffd', 'non-character-fffe':
  '\ufffe', 'non-character-ffff': '\uffff', 'first-astral': '\u{10000}', 'g-clef': '\u{1d11e}',
  'emoji': '\u{1f600}', 'family-zwj': '\u{1f468}\u200d\u{1f469}\u200d\u{1f467}', 'flag':
  '\u{1f1eb}\u{1f1f7}', 'last-code-point': '\u{10ffff}', 'mixed-widths': 'a\u00e9\u20ac\u{1f600}z',
};
function jsEscapes(s) {
  let out = '';
  for (let i = 0; i < s.length; i++)
    out += '\\u' + s.charCodeAt(i).toString(16).padStart(4, '0');
  return out;
}
for (const [label, s] of Object.entries(SPECIALS)) {
  cases.push(structured(`unicode-${label}`, 'P' + s, 'P:' + s, s, [['k' + s, 'string', s]]));
  cases.push(legacy(`legacy-unicode-${label}-raw`,
    `{"exp":__EXP__,"ver":1,"aud":"P${s}","uid":"P:${s}","k${s}":["${s}"]}`));
  cases.push(legacy(`legacy-unicode-${label}-escaped`,
    `{"exp":__EXP__,"ver":"1","aud":"P${jsEscapes(s)}","uid":"P:${jsEscapes(s)}",` +
    `"urn:microsoft:credentials":"{\\"accessToken\\":\\"${jsEscapes(s).replace(/\\/g, '\\\\')}\\"}"}`));
}

// Credentials.
cases.push(structured('credentials-empty-token', 'Facebook', 'Facebook:1', ''));
cases.push(structured('credentials-long-token', 'Facebook', 'Facebook:2', 'EAAB' + 'x'.repeat(8188)));
cases.push(structured('credentials-jwt-like-token', 'Google', 'Google:3',
  'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl'));
cases.push(structured('credentials-with-extras', 'Twitter', 'Twitter:4', 'tok',
  [['screen_name', 'string', 'jack'], ['followers', 'integer', 12]]));
cases.push(legacy('legacy-credentials-object', `{"exp":__EXP__,"iss":"${ISSUER}","ver":1,` +
  `"aud":"Facebook","uid":"Facebook:10203040","urn:microsoft:credentials":{"accessToken":"EAAB-demo-token"}}`));
cases.push(legacy('legacy-credentials-string', `{"exp":__EXP__,"iss":"${ISSUER}","ver":1,` +
  `"aud":"Facebook","uid":"Facebook:10203040","urn:microsoft:credentials":"{\\"accessToken\\":\\"EAAB-demo-token\\"}"}`));
cases.push(legacy('legacy-credentials-string-with-whitespace', `{"exp":__EXP__,"ver":1,"aud":"F",` +
  `"uid":"F:1","urn:microsoft:credentials":" {\\n\\t\\"accessToken\\" : \\"a b\\" }\\r\\n"}`));
cases.push(legacy('legacy-credentials-string-nested-escapes', `{"exp":__EXP__,"ver":1,"aud":"F",` +
  `"uid":"F:1","urn:microsoft:credentials":"{\\"accessToken\\":\\"q\\\\\\"b\\\\\\\\s\\\\n\\\\u00e9\\"}"}`));
cases.push(legacy('legacy-credentials-empty-token', `{"exp":__EXP__,"ver":2,"aud":"F","uid":"F:1",` +
  `"urn:microsoft:credentials":{"accessToken":""}}`));
cases.push(legacy('legacy-credentials-first', `{"urn:microsoft:credentials":{"accessToken":"t"},` +
  `"uid":"F:1","aud":"F","ver":1,"exp":__EXP__}`));
cases.push(legacy('legacy-credentials-long-token', `{"exp":__EXP__,"ver":1,"aud":"F","uid":"F:1",` +
  `"urn:microsoft:credentials":{"accessToken":"${'y'.repeat(8192)}"}}`));

// Extra claims of each type.
const INTEGERS = [0, 1, -1, 42, 2147483647, -2147483648, 4294967296, 1e15, Number.MAX_SAFE_INTEGER,
  -Number.MAX_SAFE_INTEGER];
for (const n of INTEGERS)
  cases.push(structured(`extra-integer-${n}`, 'Custom', 'Custom:1', undefined, [['n', 'integer', n]]));
cases.push(structured('extra-booleans', 'Custom', 'Custom:1', undefined,
  [['t', 'boolean', true], ['f', 'boolean', false]]));
cases.push(structured('extra-empty-string', 'Custom', 'Custom:1', undefined, [['e', 'string', '']]));
cases.push(structured('extra-long-string', 'Custom', 'Custom:1', undefined,
  [['long', 'string', 'z'.repeat(4094)]]));
cases.push(structured('extra-list-empty', 'Custom', 'Custom:1', undefined, [['l', 'list', []]]));
cases.push(structured('extra-list-one', 'Custom', 'Custom:1', undefined, [['l', 'list', ['only']]]));
cases.push(structured('extra-list-many', 'Custom', 'Custom:1', undefined,
  [['roles', 'list', ['admin', 'user', '', 'a"b', 'c\\d', '\u{1f600}', '\n']]]));
cases.push(structured('extra-every-type-in-order', 'Custom', 'Custom:1', 'tok',
  [['z', 'string', 'last letter first'], ['a', 'integer', -7], ['m', 'boolean', true],
    ['b', 'list', ['x']]]));
const NAMES = ['Exp', 'EXP', 'exp ', ' iss', 'aud2', 'urn:microsoft:credentials2', 'Urn:microsoft:credentials',
  '-1', '1.5', '1e3', '+1', ' 1', '1 ', '0x10', '4294967295x', 'constructor', 'toString',
  'hasOwnProperty', 'valueOf', '__proto', 'proto__', '__defineGetter__', 'length', 'a=b',
  'x'.repeat(128), '\u00e9\u{1f600}', 'with space', 'http://example.com/claim'];
for (const name of NAMES)
  cases.push(structured(`extra-name-${JSON.stringify(name).slice(1, 41)}`, 'Custom', 'Custom:1',
    undefined, [[name, 'string', 'v']]));
cases.push(structured('extra-32-claims-keep-order', 'Custom', 'Custom:1', undefined,
  Array.from({ length: 32 }, (_, i) => [`c${31 - i}`, 'integer', i])));

// v1 claim sets: ver, exp and iss forms, member orders, layout, extras.
const base = (ver, rest = '') => `{"exp":__EXP__,"iss":"${ISSUER}","ver":${ver},"aud":"Custom",` +
  `"uid":"Custom:42"${rest}}`;
for (const ver of ['1', '"1"', '2', '"2"', '1.0', '2.0', '1e0', '0.2e1'])
  cases.push(legacy(`legacy-ver-${ver.replace(/"/g, 'q')}`, base(ver)));
for (const suffix of ['', '.0', '.5', '.25', '.999', '.9999', '.000001', 'e0', '0e-1', '.5e0',
  '.99999', '.0000001', '.99999999'])
  cases.push(legacy(`legacy-exp-suffix-${suffix || 'none'}`,
    `{"exp":__EXP__${suffix},"ver":1,"aud":"Custom","uid":"Custom:42"}`));
cases.push(structured('spec-vector-1', 'Custom', 'Custom:42'));
// The reference must reproduce spec/zumo-v2.md's vector 1 before anything it says counts.
if (cases[cases.length - 1].token !== 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6IjAifQ.' +
    'eyJleHAiOjE3NjcyMjU2MDAsImlzcyI6InVybjptaWNyb3NvZnQ6d2luZG93cy1henVyZTp6dW1vIiwidmVyIjoyLCJh' +
    'dWQiOiJDdXN0b20iLCJ1aWQiOiJDdXN0b206NDIifQ.P5Iev-PlRoFmB5hvugkaO5IWM0nrTTo3c2M97XvqX_I')
  throw new Error('the reference does not reproduce spec vector 1');
cases.push(legacy('legacy-spec-vector-1-shape', base('1')));
cases.push(legacy('legacy-no-iss', '{"exp":__EXP__,"ver":1,"aud":"Custom","uid":"Custom:42"}'));
cases.push(legacy('legacy-no-exp-uses-request-expiry', '{"ver":1,"aud":"Custom","uid":"Custom:42"}',
  { requestExpiry: true }));
cases.push(legacy('legacy-reversed-order', `{"uid":"Custom:42","aud":"Custom","ver":1,` +
  `"iss":"${ISSUER}","exp":__EXP__}`));
cases.push(legacy('legacy-extras-first', '{"role":"admin","n":5,"exp":__EXP__,"ver":1,"aud":"C","uid":"C:1"}'));
cases.push(legacy('legacy-extras-between', '{"exp":__EXP__,"a":"1","ver":1,"b":2,"aud":"C","c":true,' +
  '"uid":"C:1","d":["x"]}'));
cases.push(legacy('legacy-pretty-printed', `{\n  "exp": __EXP__,\n  "iss": "${ISSUER}",\n\t"ver": 1,\r\n` +
  '  "aud" : "Custom" ,\n  "uid":\n"Custom:42",\n  "role": [ "a" , "b" ]\n}\n'));
cases.push(legacy('legacy-escaped-member-names', '{"\\u0065xp":__EXP__,"v\\u0065r":1,"\\u0061ud":"C",' +
  '"ui\\u0064":"C:1","\\u0041":"escaped name"}'));
cases.push(legacy('legacy-integral-numbers', '{"exp":__EXP__,"ver":1,"aud":"C","uid":"C:1","a":1.0,' +
  '"b":1e3,"c":-0,"d":-0.0,"e":9007199254740991,"f":-9007199254740991,"g":2.5e1,"h":1E2}'));
cases.push(legacy('legacy-booleans', '{"exp":__EXP__,"ver":1,"aud":"C","uid":"C:1","t":true,"f":false}'));
cases.push(legacy('legacy-lists', '{"exp":__EXP__,"ver":1,"aud":"C","uid":"C:1","e":[],"one":["x"],' +
  '"many":["a","\\u00e9","\\ud83d\\ude00","\\n"]}'));
cases.push(legacy('legacy-surrogate-pair-escapes', '{"exp":__EXP__,"ver":1,"aud":"\\uD83D\\uDE00",' +
  '"uid":"C:\\udbff\\udfff"}'));
cases.push(legacy('legacy-uppercase-escapes', '{"exp":__EXP__,"ver":1,"aud":"\\u00C9","uid":"C:\\u001F\\u007F"}'));
cases.push(legacy('legacy-solidus-escape', '{"exp":__EXP__,"ver":1,"aud":"a\\/b","uid":"http:\\/\\/x"}'));
cases.push(legacy('legacy-nested-object-shapes-as-strings', '{"exp":__EXP__,"ver":1,"aud":"C",' +
  '"uid":"C:1","profile":"{\\"name\\":\\"x\\"}"}'));
cases.push(legacy('legacy-empty-strings', '{"exp":__EXP__,"ver":1,"aud":"C","uid":"C:1","s":""}'));
cases.push(legacy('legacy-ver-2-nothing-to-change', base('2')));
cases.push(legacy('legacy-numeric-looking-names', '{"exp":__EXP__,"ver":1,"aud":"C","uid":"C:1",' +
  '"-1":1,"1.5":2,"1e3":3,"01x":4}'));
cases.push(legacy('legacy-js-builtin-names', '{"exp":__EXP__,"ver":1,"aud":"C","uid":"C:1",' +
  '"constructor":"c","toString":"t","hasOwnProperty":"h"}'));

// Pseudo-random: structured and v1, from a fixed seed.
const r = rng(20240229);
for (let i = 0; i < 40; i++) {
  const tokenChoice = r() < 0.5 ? undefined : randomString(r, 20);
  cases.push(structured(`random-claims-${i}`, 'R' + randomString(r, 10), 'R:' + randomString(r, 10),
    tokenChoice, randomClaims(r, 'x')));
}
for (let i = 0; i < 40; i++) {
  const v1 = { exp: EXP_BASE, iss: ISSUER, ver: r() < 0.5 ? 1 : '1', aud: 'R' + randomString(r, 10),
    uid: 'R:' + randomString(r, 10) };
  if (r() < 0.5)
    v1[CRED] = { accessToken: randomString(r, 20) };
  else if (r() < 0.5)
    v1[CRED] = JSON.stringify({ accessToken: randomString(r, 20) });
  if (r() < 0.3)
    delete v1.iss;
  for (const [n, , v] of randomClaims(r, 'y'))
    v1[n] = v;
  const text = JSON.stringify(v1).replace(`"exp":${EXP_BASE}`, '"exp":__EXP__');
  cases.push(legacy(`random-legacy-${i}`, text));
}

// ---- write ----

const names = new Set();
for (const c of cases) {
  if (names.has(c.name))
    throw new Error(`duplicate case name ${c.name}`);
  names.add(c.name);
}
const doc = {
  about: 'hsmjwt v2 conformance vectors, made by generate.js with Node.js JSON.stringify and ' +
    'crypto; see README.md',
  master_key: MASTER,
  issuer: ISSUER,
  exp_base: EXP_BASE,
};
const out = process.argv[2] || path.join(__dirname, 'vectors.json');
const lines = JSON.stringify(doc).slice(0, -1) + ',"cases":[\n' +
  cases.map((c) => JSON.stringify(c)).join(',\n') + '\n]}\n';
fs.writeFileSync(out, lines);
console.log(`${cases.length} cases written to ${out}`);
