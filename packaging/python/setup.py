# The wheel holds a compiled library (statevtab/statevtab.so): mark the
# distribution as binary, so the wheel is tagged for this platform and
# Python rather than "any".
from setuptools import setup
from setuptools.dist import Distribution


class BinaryDistribution(Distribution):
    def has_ext_modules(self):
        return True


setup(distclass=BinaryDistribution)
