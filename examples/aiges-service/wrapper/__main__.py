import six

from wrapper import NAME

print(f"{NAME} serving (six {six.__version__})")
