from setuptools import setup

setup(name="detectron2", version="0.0.1", py_modules=["detectron2"])
