"""Builds pecore._pecore from bindings/python/src against the library of
this checkout: `make` builds build/libpecore.a (its kernels need per-file
ISA flags, which the Makefile knows) and the CLI's image decoder object,
then they are linked in statically, as `make python` does."""
import glob
import os
import subprocess

import numpy
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
LIB = os.path.join(ROOT, "build", "libpecore.a")
IMAGE_IO = os.path.join(ROOT, "build", "obj", "tools", "image_io.o")


class BuildWithLibrary(build_ext):
    def run(self):
        if not os.path.exists(os.path.join(ROOT, "include", "pecore.h")):
            raise SystemExit("pecore: build from a pecore checkout (bindings/python inside it)")
        subprocess.check_call(["make", "-C", ROOT, "-j2", "build/libpecore.a",
                               "build/obj/tools/image_io.o"])
        super().run()


setup(
    ext_modules=[Extension(
        "pecore._pecore",
        sources=sorted(glob.glob("src/*.c")),
        depends=glob.glob("src/*.h"),
        include_dirs=[os.path.join(ROOT, "include"), os.path.join(ROOT, "tools"),
                      numpy.get_include()],
        extra_compile_args=["-std=c11", "-D_GNU_SOURCE"],
        extra_objects=[IMAGE_IO, LIB],
        libraries=["jpeg", "png", "z", "utf8proc", "m", "pthread"],
        extra_link_args=["-Wl,--exclude-libs,ALL"],
    )],
    cmdclass={"build_ext": BuildWithLibrary},
)
