"""Packaging: compiles protos/*.proto into easymtl/protos/*_pb2.py at build time."""

import glob
import os

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))


def compile_protos() -> None:
    """Generates easymtl/protos/*_pb2.py from protos/*.proto with grpcio-tools' protoc."""
    from grpc_tools import protoc

    protos = sorted(glob.glob(os.path.join(HERE, "protos", "*.proto")))
    include = os.path.dirname(protoc.__file__) + "/_proto"
    args = [
        "protoc",
        f"-Ieasymtl/protos={os.path.join(HERE, 'protos')}",
        f"-I{include}",
        f"--python_out={HERE}",
    ] + ["easymtl/protos/" + os.path.basename(p) for p in protos]
    if protoc.main(args) != 0:
        # SystemExit, not an Exception: setuptools' editable build would swallow an
        # Exception from build_py and install stale *_pb2.py modules.
        raise SystemExit("error: protoc failed on protos/*.proto (its message is above)")


class BuildPyWithProtos(build_py):
    """build_py that generates the protobuf modules first (also for editable installs)."""

    def run(self) -> None:
        compile_protos()
        super().run()


setup(
    packages=find_packages(include=["easymtl", "easymtl.*"]),
    cmdclass={"build_py": BuildPyWithProtos},
)
