# SPDX-License-Identifier: Apache-2.0
"""List each regular file below the given dirs with a hash of its contents.

The working directory's path, plain or quoted as in a URL, is replaced by
"@" first, so that a tool run in two directories whose paths are as long
leaves the same listing.  A wheel's RECORD, which holds hashes of files
that name that path, is listed with its entries that do not match the
tree instead (none, when pip installed it right).
"""
import base64
import hashlib
import os
import sys
import urllib.parse

HERE = os.getcwd()


def record_hash(data):
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def record_mismatches(dist_info, data):
    bad = []
    for entry in data.decode().splitlines():
        name, digest = entry.split(",")[:2]
        if not digest.startswith("sha256="):
            continue
        with open(os.path.join(dist_info, "..", name), "rb") as f:
            if record_hash(f.read()) != digest[len("sha256="):]:
                bad.append(name)
    return bad


def main():
    for top in sys.argv[1:]:
        for d, _, files in sorted(os.walk(top)):
            for name in sorted(files):
                path = os.path.join(d, name)
                if os.path.islink(path):
                    continue
                with open(path, "rb") as f:
                    data = f.read()
                if name == "RECORD" and d.endswith(".dist-info"):
                    print(path, "RECORD mismatches:", record_mismatches(d, data))
                    continue
                data = data.replace(urllib.parse.quote(HERE).encode(), b"@")
                data = data.replace(HERE.encode(), b"@")
                print(path, hashlib.sha256(data).hexdigest())


main()
