"""Writes a tiny pure-Python wheel, NAME-VERSION-py3-none-any.whl (NAME: kfldemo unless given), into
a folder: no build backend and no network (a wheel is a zip file with a dist-info folder). The tests
also make a stand-in `kfp` wheel this way, so the kfp runtime layer installs offline."""
import base64
import hashlib
import sys
import zipfile

folder, version = sys.argv[1], sys.argv[2]
name = sys.argv[3] if len(sys.argv) > 3 else "kfldemo"
dist = f"{name}-{version}.dist-info"
files = {
    f"{name}/__init__.py": f"ANSWER = 42\nVERSION = {version!r}\n",
    f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
    f"{dist}/WHEEL": "Wheel-Version: 1.0\nGenerator: kfl-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
}
record = []
for path, text in files.items():
    digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
    record.append(f"{path},sha256={digest},{len(text.encode())}")
record.append(f"{dist}/RECORD,,")
files[f"{dist}/RECORD"] = "\n".join(record) + "\n"
with zipfile.ZipFile(f"{folder}/{name}-{version}-py3-none-any.whl", "w") as wheel:
    for path, text in files.items():
        info = zipfile.ZipInfo(path, date_time=(1980, 1, 1, 0, 0, 0))
        wheel.writestr(info, text)
