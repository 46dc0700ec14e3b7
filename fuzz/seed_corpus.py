#!/usr/bin/env python3
"""Writes the seed inputs of every fuzz target into seeds/<target>/, from the
conformance vectors (tests/conformance/*.json) and the endpoint documentation's
samples. `fuzz/README.md` says how they become the checked-in corpus."""

import hashlib
import json
import os
import sys
from urllib.parse import urlencode

HERE = os.path.dirname(os.path.abspath(__file__))
VECTORS = os.path.join(HERE, "..", "tests", "conformance")
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "seeds")
FIELDS = ["nik", "name", "date_of_birth", "no_kk", "mother_maiden_name", "place_of_birth", "address",
          "gender", "marital_status", "job_type", "province", "city", "district", "subdistrict", "rt", "rw"]

# The documentation's answers, verbatim; the 400 really has a trailing comma.
DOC_200 = [
    '{ "verification_status": true, "reason": "Verification Success", "result": { "nik": true, "name": true, "date_of_birth": true } }',
    '{ "verification_status": false, "reason": "NIK not found on Dukcapil database", "result": { "nik": false, "name": null, "date_of_birth": null } }',
    '{ "verification_status": false, "reason": "Name does not match", "result": { "nik": true, "name": false, "date_of_birth": true } }',
    '{ "verification_status": false, "reason": "Date of birth does not match", "result": { "nik": true, "name": true, "date_of_birth": false } }',
    # The object description calls the per-field object `data`.
    '{"verification_status":true,"reason":"Verification Success","data":{"nik":true,"name":true}}',
]
DOC_ERRORS = [
    '{ "verification_status": false, "reason": "Invalid NIK number format", }',
    '{ "verification_status": false, "reason": "Invalid date_of_birth format" }',
    '{ "verification_status": false, "reason": "Something wrong in Dukcapil server", "result": { "nik": null, "name": null, "date_of_birth": null } }',
    '{"error": "Access to this API has been disallowed"}',
    '{"message": "Too Many Requests"}',
    "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>",
    "",
]


def write(target, data):
    if isinstance(data, str):
        data = data.encode()
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, hashlib.sha1(data).hexdigest()), "wb") as f:
        f.write(data)


def requests():
    seen = []
    for name in ["documented", "validation", "fields", "faults"]:
        with open(os.path.join(VECTORS, name + ".json")) as f:
            for case in json.load(f)["cases"]:
                r = case.get("request")
                if isinstance(r, dict) and r not in seen:
                    seen.append(r)
    return seen


def main():
    reqs = requests()
    niks = sorted({r["nik"] for r in reqs if isinstance(r.get("nik"), str)})
    for r in reqs:
        write("validation", json.dumps(r, ensure_ascii=False))
    # The 0xFF-separated form, for values JSON cannot carry (lone invalid bytes).
    for r in reqs[:4]:
        write("validation", b"\xff".join(str(r.get(f, "")).encode() for f in FIELDS))
    write("validation", "3171014508900001\xffSiti\x00Rahayu".encode("latin-1"))

    for nik in niks[:24]:
        write("nik", nik)
    write("nik", " 3171-0145-0890-0001 ")
    write("nik", "3171.0145.0890.0001\u00a0")

    for body in DOC_200:
        write("response_2xx", body)
    write("response_2xx", '{"verification_status":true,"reason":"Verification Success"}')
    for body in DOC_ERRORS:
        write("response_error", body)

    full = next(r for r in reqs if len(r) == 16)
    boundary = "glair-vision-0123456789abcdef0123456789abcdef"
    parts = "".join(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
                    for k, v in full.items())
    write("sandbox_body", f"multipart/form-data; boundary={boundary}\n{parts}--{boundary}--\r\n")
    write("sandbox_body", 'multipart/form-data; boundary="XyZ"\npreamble\r\n--XyZ \r\n'
                          'content-disposition: form-data; name="nik"\r\nContent-Type: text/plain\r\n\r\n'
                          '3171014508900001\r\n--XyZ--')
    write("sandbox_body", "application/x-www-form-urlencoded\n" + urlencode(full))
    write("sandbox_body", "application/json; charset=utf-8\n" + json.dumps(full))
    write("sandbox_body", 'application/json\n{"nik":"3171014508900001","rt":7,"rw":null}')
    write("sandbox_body", "text/plain\nnik=3171014508900001")


if __name__ == "__main__":
    main()
