// Stand-in for iconv-lite in the Lambda bundles. mysql2 reaches iconv-lite only for character sets
// Node cannot decode itself: dbusers connects with utf8mb4 (Node's utf8), and the handshake may use
// CESU-8 (MySQL's utf8mb3), which is handled here. That keeps 480 KiB of code tables out of the
// bundle; a server answering in any other character set fails loudly.
'use strict';

function unsupported(encoding) {
  return new Error(
    `dbusers bundles only UTF-8 and CESU-8 decoding; the server sent ${encoding}: connect with charset utf8mb4`,
  );
}

const isCesu8 = (encoding) =>
  String(encoding)
    .toLowerCase()
    .replace(/[^a-z0-9]/g, '') === 'cesu8';

/** CESU-8 is UTF-8 with each UTF-16 surrogate encoded on its own (3 bytes). */
function decodeCesu8(buffer) {
  if (!buffer.includes(0xed)) return buffer.toString('utf8');
  let out = '';
  for (let i = 0; i < buffer.length; ) {
    const b = buffer[i];
    if (b < 0x80) {
      out += String.fromCharCode(b);
      i += 1;
    } else if (b >> 5 === 0x6) {
      out += String.fromCharCode(((b & 0x1f) << 6) | (buffer[i + 1] & 0x3f));
      i += 2;
    } else if (b >> 4 === 0xe) {
      out += String.fromCharCode(((b & 0x0f) << 12) | ((buffer[i + 1] & 0x3f) << 6) | (buffer[i + 2] & 0x3f));
      i += 3;
    } else {
      out += buffer.subarray(i, i + 4).toString('utf8');
      i += 4;
    }
  }
  return out;
}

function encodeCesu8(string) {
  const bytes = [];
  for (let i = 0; i < string.length; i++) {
    const c = string.charCodeAt(i);
    if (c < 0x80) bytes.push(c);
    else if (c < 0x800) bytes.push(0xc0 | (c >> 6), 0x80 | (c & 0x3f));
    else bytes.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f));
  }
  return Buffer.from(bytes);
}

module.exports = {
  getDecoder(encoding) {
    if (!isCesu8(encoding)) throw unsupported(encoding);
    return { write: decodeCesu8, end: () => '' };
  },
  getEncoder(encoding) {
    if (!isCesu8(encoding)) throw unsupported(encoding);
    return { write: encodeCesu8, end: () => undefined };
  },
  decode(buffer, encoding) {
    if (!isCesu8(encoding)) throw unsupported(encoding);
    return decodeCesu8(buffer);
  },
  encode(string, encoding) {
    if (!isCesu8(encoding)) throw unsupported(encoding);
    return encodeCesu8(string);
  },
  encodingExists: (encoding) => isCesu8(encoding),
  _decodeCesu8: decodeCesu8,
  _encodeCesu8: encodeCesu8,
};
