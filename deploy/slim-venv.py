"""Trims the image's virtualenv of what the appliance never runs (run at build time): the
installers and the build backend, and the models of every AWS service but the S3 and
credential ones that the S3 storage-site adapter loads."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

AWS_SERVICES_KEPT = {"s3", "sts", "sso", "sso-oidc"}
INSTALLERS = (
    "pip",
    "setuptools",
    "pkg_resources",
    "_distutils_hack",
    "distutils-precedence.pth",
    "hatchling",
    "trove_classifiers",
)


def main(venv: Path) -> None:
    (site_packages,) = venv.glob("lib/python3*/site-packages")
    for name in INSTALLERS:
        for path in [site_packages / name, *site_packages.glob(f"{name}-*.dist-info")]:
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
    for script in [*venv.glob("bin/pip*"), venv / "bin" / "hatchling"]:
        script.unlink(missing_ok=True)
    data = site_packages / "botocore" / "data"
    for service in data.iterdir():
        if service.is_dir() and service.name not in AWS_SERVICES_KEPT:
            shutil.rmtree(service)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
