"""Password hashes of known passwords for the bulk-import tests: bcrypt, argon2 and Firebase scrypt.

Firebase scrypt as Firebase makes it (shared/reference/algorithms.md §2): key = scrypt(password,
salt ‖ salt separator, N = 2^mem_cost, r = rounds, p = 1, 64 bytes); the hash is
AES-256-CTR(key[0..32], zero IV) of the project's signer key, in Base64. The core's format is
`$f_scrypt$<hash>$<salt>$m=<mem_cost>$r=<rounds>$s=<salt separator>`.
"""

import base64
import hashlib
import os

import bcrypt
from argon2.low_level import Type, hash_secret
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

# Firebase's published example project (the firebase/scrypt README): its signer key, salt separator
# and cost parameters, and one user's hash of a known password.
FIREBASE_SIGNER_KEY = "jxspr8Ki0RYycVU8zykbdLGjFQ3McFUH0uiiTvC8pVMXAn210wjLNmdZJzxUECKbm0QsEmYUSDzZvpjeJ9WmXA=="
FIREBASE_SALT_SEPARATOR = "Bw=="
FIREBASE_ROUNDS = 8
FIREBASE_MEM_COST = 14
FIREBASE_EXAMPLE_PASSWORD = "user1password"
FIREBASE_EXAMPLE_SALT = "42xEC+ixf3L2lw=="
FIREBASE_EXAMPLE_HASH = (
    "$f_scrypt$lSrfV15cpx95/sZS2W9c9Kp6i/LVgQNDNC/qzrCnh1SAyZvqmZqAjTdn3aoItz+VHjoZilo78198JAdRuid5lQ=="
    "$42xEC+ixf3L2lw==$m=14$r=8$s=Bw=="
)


def bcrypt_hash(password: str, prefix: bytes = b"2b", rounds: int = 10) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=rounds, prefix=prefix)).decode()


def argon2_hash(password: str, variant: Type) -> str:
    return hash_secret(
        password.encode(), os.urandom(16), time_cost=2, memory_cost=1024, parallelism=1, hash_len=32, type=variant
    ).decode()


def firebase_scrypt(password: str, salt: str) -> str:
    """The core's `$f_scrypt$…` string for `password` with a Base64 `salt`, under the example
    project's parameters."""
    key = hashlib.scrypt(
        password.encode(),
        salt=base64.b64decode(salt) + base64.b64decode(FIREBASE_SALT_SEPARATOR),
        n=2**FIREBASE_MEM_COST,
        r=FIREBASE_ROUNDS,
        p=1,
        maxmem=256 * 1024 * 1024,
        dklen=64,
    )
    encryptor = Cipher(algorithms.AES(key[:32]), modes.CTR(bytes(16))).encryptor()
    hashed = encryptor.update(base64.b64decode(FIREBASE_SIGNER_KEY)) + encryptor.finalize()
    return (
        f"$f_scrypt${base64.b64encode(hashed).decode()}${salt}"
        f"$m={FIREBASE_MEM_COST}$r={FIREBASE_ROUNDS}$s={FIREBASE_SALT_SEPARATOR}"
    )
