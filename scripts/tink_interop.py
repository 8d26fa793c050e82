#!/usr/bin/env python3
"""Tink (Python) side of the bacca-crypto interop check.

Loads a tenant's KEK from a bacca local keyring (`local-kms://` file: each tenant's KEK is a
Tink cleartext JSON keyset) and uses it as the "remote" AEAD of Tink's KmsEnvelopeAead, or
to wrap/unwrap the AesGcmHkdfStreamingKey of bacca's streaming envelope:

    envelope:  u32 BE len(W) || W || AES-256-GCM payload        (Tink KmsEnvelopeAead, exactly)
    streaming: u32 BE len(W) || W || Tink AES-GCM-HKDF streaming ciphertext
               W = KEK.encrypt(serialized AesGcmHkdfStreamingKey, associated_data=b"")

Usage (associated data is given in hex, so any bytes can be passed):
    tink_interop.py {encrypt,decrypt} --keyring FILE --tenant ID --aad-hex HEX
                    --input FILE --output FILE [--streaming] [--segment {4KB,1MB}]

Run by shared/crypto/tests/tink_interop.rs when BACCA_TINK_PYTHON names this venv's python.
"""

import argparse
import base64
import io
import json
import struct
import sys

import tink
from tink import aead, json_proto_keyset_format, secret_key_access, streaming_aead

STREAMING_TYPE_URL = "type.googleapis.com/google.crypto.tink.AesGcmHkdfStreamingKey"
MAX_WRAPPED = 4096


def load_kek(keyring_path, tenant):
    with open(keyring_path, encoding="utf-8") as f:
        ring = json.load(f)
    if ring.get("format") != "bacca-local-keyring-v1":
        sys.exit("not a bacca keyring")
    entry = ring["tenants"][tenant]
    handle = json_proto_keyset_format.parse(json.dumps(entry["keyset"]), secret_key_access.TOKEN)
    return handle.primitive(aead.Aead)


def split_wrapped(data):
    if len(data) < 4:
        raise ValueError("truncated")
    (n,) = struct.unpack(">I", data[:4])
    if n == 0 or n > MAX_WRAPPED or len(data) < 4 + n:
        raise ValueError("bad wrapped key length")
    return data[4 : 4 + n], data[4 + n :]


def streaming_primitive(key_proto):
    keyset = {
        "primaryKeyId": 1,
        "key": [
            {
                "keyData": {
                    "typeUrl": STREAMING_TYPE_URL,
                    "value": base64.b64encode(key_proto).decode(),
                    "keyMaterialType": "SYMMETRIC",
                },
                "status": "ENABLED",
                "keyId": 1,
                "outputPrefixType": "RAW",
            }
        ],
    }
    handle = json_proto_keyset_format.parse(json.dumps(keyset), secret_key_access.TOKEN)
    return handle.primitive(streaming_aead.StreamingAead)


class _KeepOpen(io.BytesIO):
    """A BytesIO that survives the encrypting stream closing it (the last segment is
    written on close)."""

    def close(self):
        pass


def encrypt(kek, aad, plaintext, streaming, segment):
    if not streaming:
        env = aead.KmsEnvelopeAead(aead.aead_key_templates.AES256_GCM, kek)
        return env.encrypt(plaintext, aad)
    template = {
        "4KB": streaming_aead.streaming_aead_key_templates.AES256_GCM_HKDF_4KB,
        "1MB": streaming_aead.streaming_aead_key_templates.AES256_GCM_HKDF_1MB,
    }[segment]
    handle = tink.new_keyset_handle(template)
    exported = json.loads(json_proto_keyset_format.serialize(handle, secret_key_access.TOKEN))
    key_proto = base64.b64decode(exported["key"][0]["keyData"]["value"])
    wrapped = kek.encrypt(key_proto, b"")
    sink = _KeepOpen()
    with handle.primitive(streaming_aead.StreamingAead).new_encrypting_stream(sink, aad) as enc:
        enc.write(plaintext)
    return struct.pack(">I", len(wrapped)) + wrapped + sink.getvalue()


def decrypt(kek, aad, ciphertext, streaming):
    if not streaming:
        env = aead.KmsEnvelopeAead(aead.aead_key_templates.AES256_GCM, kek)
        return env.decrypt(ciphertext, aad)
    wrapped, body = split_wrapped(ciphertext)
    key_proto = kek.decrypt(wrapped, b"")
    prim = streaming_primitive(key_proto)
    with prim.new_decrypting_stream(io.BytesIO(body), aad) as dec:
        return dec.read()


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("op", choices=["encrypt", "decrypt"])
    p.add_argument("--keyring", required=True)
    p.add_argument("--tenant", required=True)
    p.add_argument("--aad-hex", default="")
    p.add_argument("--input", required=True)
    p.add_argument("--output", required=True)
    p.add_argument("--streaming", action="store_true")
    p.add_argument("--segment", choices=["4KB", "1MB"], default="4KB")
    args = p.parse_args()

    aead.register()
    streaming_aead.register()
    kek = load_kek(args.keyring, args.tenant)
    aad = bytes.fromhex(args.aad_hex)
    with open(args.input, "rb") as f:
        data = f.read()
    try:
        if args.op == "encrypt":
            out = encrypt(kek, aad, data, args.streaming, args.segment)
        else:
            out = decrypt(kek, aad, data, args.streaming)
    except tink.TinkError as e:
        # The error class only; never key material or content.
        print(f"tink error: {type(e).__name__}", file=sys.stderr)
        return 3
    with open(args.output, "wb") as f:
        f.write(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
