#!/usr/bin/env python3
"""Store logins (IMAP/SMTP passwords) in a Thunderbird profile, before its first launch.

Thunderbird has no password pref: it asks its login manager for origin
`imap://HOST` / `smtp://HOST` (no port), httpRealm equal to the origin, and the
account's username. With nothing stored, a headless Thunderbird opens an
invisible modal prompt and hangs. This script creates the profile's NSS key
database (empty primary password) and writes `logins.json` with username and
password encrypted by PK11SDR_Encrypt, using Thunderbird's *own* bundled NSS
so the key database format matches what Thunderbird expects.

Usage:  tb-logins.py  < request.json
request: {"profileDir": "...", "nssDir": "/usr/lib/thunderbird" (optional),
          "logins": [{"origin": "imap://127.0.0.1", "username": "u", "password": "p",
                      "httpRealm": "imap://127.0.0.1" (optional, defaults to origin)}]}
Existing entries in logins.json with the same origin and realm are replaced.
"""
import base64
import ctypes
import json
import os
import sys
import time
import uuid


class SECItem(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_uint),
        ("data", ctypes.POINTER(ctypes.c_ubyte)),
        ("len", ctypes.c_uint),
    ]


def load_nss(nss_dir):
    # The system libnssutil3 is too old for Thunderbird's libnss3
    # (`NSSUTIL_3.94 not found`), and libsoftokn3 (dlopen'ed by libnss3) needs
    # libmozsqlite3 which is not on the default search path: preload both
    # globally from Thunderbird's folder before loading libnss3.
    for name in ("libnssutil3.so", "libmozsqlite3.so"):
        path = os.path.join(nss_dir, name)
        if os.path.exists(path):
            ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
    nss = ctypes.CDLL(os.path.join(nss_dir, "libnss3.so"), mode=ctypes.RTLD_GLOBAL)

    nss.NSS_InitReadWrite.argtypes = [ctypes.c_char_p]
    nss.NSS_InitReadWrite.restype = ctypes.c_int
    nss.NSS_Shutdown.restype = ctypes.c_int
    nss.PK11_GetInternalKeySlot.restype = ctypes.c_void_p
    nss.PK11_NeedUserInit.argtypes = [ctypes.c_void_p]
    nss.PK11_NeedUserInit.restype = ctypes.c_int
    nss.PK11_InitPin.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p]
    nss.PK11_InitPin.restype = ctypes.c_int
    nss.PK11_NeedLogin.argtypes = [ctypes.c_void_p]
    nss.PK11_NeedLogin.restype = ctypes.c_int
    nss.PK11_CheckUserPassword.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    nss.PK11_CheckUserPassword.restype = ctypes.c_int
    nss.PK11_FreeSlot.argtypes = [ctypes.c_void_p]
    nss.PK11SDR_Encrypt.argtypes = [
        ctypes.POINTER(SECItem),
        ctypes.POINTER(SECItem),
        ctypes.POINTER(SECItem),
        ctypes.c_void_p,
    ]
    nss.PK11SDR_Encrypt.restype = ctypes.c_int
    nss.SECITEM_ZfreeItem.argtypes = [ctypes.POINTER(SECItem), ctypes.c_int]
    nss.PORT_GetError.restype = ctypes.c_int
    return nss


def fail(msg):
    sys.stderr.write("tb-logins: " + msg + "\n")
    sys.exit(1)


def main():
    req = json.load(sys.stdin)
    profile = os.path.abspath(req["profileDir"])
    nss_dir = req.get("nssDir") or "/usr/lib/thunderbird"
    os.makedirs(profile, exist_ok=True)
    nss = load_nss(nss_dir)

    if nss.NSS_InitReadWrite(("sql:" + profile).encode()) != 0:
        fail("NSS_InitReadWrite(%s) failed, NSS error %d" % (profile, nss.PORT_GetError()))
    slot = nss.PK11_GetInternalKeySlot()
    if not slot:
        fail("no internal key slot")
    if nss.PK11_NeedUserInit(slot):
        # Empty primary password, as in a fresh Thunderbird profile.
        if nss.PK11_InitPin(slot, None, b"") != 0:
            fail("PK11_InitPin failed, NSS error %d" % nss.PORT_GetError())
    if nss.PK11_NeedLogin(slot):
        if nss.PK11_CheckUserPassword(slot, b"") != 0:
            fail("the profile's key database has a non-empty primary password")

    def encrypt(text):
        raw = text.encode("utf-8")
        buf = (ctypes.c_ubyte * max(len(raw), 1)).from_buffer_copy(raw or b"\0")
        data = SECItem(0, ctypes.cast(buf, ctypes.POINTER(ctypes.c_ubyte)), len(raw))
        keyid = SECItem(0, None, 0)
        out = SECItem(0, None, 0)
        if nss.PK11SDR_Encrypt(ctypes.byref(keyid), ctypes.byref(data), ctypes.byref(out), None) != 0:
            fail("PK11SDR_Encrypt failed, NSS error %d" % nss.PORT_GetError())
        enc = base64.b64encode(ctypes.string_at(out.data, out.len)).decode("ascii")
        nss.SECITEM_ZfreeItem(ctypes.byref(out), 0)
        return enc

    path = os.path.join(profile, "logins.json")
    if os.path.exists(path):
        with open(path) as f:
            store = json.load(f)
    else:
        store = {
            "nextId": 1,
            "logins": [],
            "potentiallyVulnerablePasswords": [],
            "dismissedBreachAlertsByLoginGUID": {},
            "version": 3,
        }

    now = int(time.time() * 1000)
    for login in req.get("logins", []):
        origin = login["origin"]
        realm = login.get("httpRealm") or origin
        user = login["username"]
        # Encrypted usernames cannot be compared; drop entries for the same origin/realm.
        store["logins"] = [
            l for l in store["logins"] if not (l.get("hostname") == origin and l.get("httpRealm") == realm)
        ]
        store["logins"].append(
            {
                "id": store["nextId"],
                "hostname": origin,
                "httpRealm": realm,
                "formSubmitURL": None,
                "usernameField": "",
                "passwordField": "",
                "encryptedUsername": encrypt(user),
                "encryptedPassword": encrypt(login["password"]),
                "guid": "{%s}" % uuid.uuid4(),
                "encType": 1,
                "timeCreated": now,
                "timeLastUsed": now,
                "timePasswordChanged": now,
                "timesUsed": 1,
            }
        )
        store["nextId"] += 1

    nss.PK11_FreeSlot(slot)
    if nss.NSS_Shutdown() != 0:
        fail("NSS_Shutdown failed, NSS error %d" % nss.PORT_GetError())

    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(store, f)
    os.replace(tmp, path)
    print(json.dumps({"ok": True, "count": len(store["logins"])}))


if __name__ == "__main__":
    main()
