# SPDX-License-Identifier: Apache-2.0
"""Write hello-1.0-py3-none-any.whl into the working directory: a module
and a console script, made by hand so that no build backend is needed
offline."""
import base64
import hashlib
import zipfile

FILES = {
    "hello/__init__.py": b'def main():\n    print("hello from a wheel")\n',
    "hello-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: hello\nVersion: 1.0\n",
    "hello-1.0.dist-info/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\n"
    b"Root-Is-Purelib: true\nTag: py3-none-any\n",
    "hello-1.0.dist-info/entry_points.txt": b"[console_scripts]\nhello = hello:main\n",
}


def record_line(name, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return "%s,sha256=%s,%d" % (name, digest.decode(), len(data))


record = [record_line(n, d) for n, d in FILES.items()] + ["hello-1.0.dist-info/RECORD,,"]
FILES["hello-1.0.dist-info/RECORD"] = ("\n".join(record) + "\n").encode()
with zipfile.ZipFile("hello-1.0-py3-none-any.whl", "w") as z:
    for name, data in FILES.items():
        z.writestr(zipfile.ZipInfo(name, (2020, 1, 1, 0, 0, 0)), data)
