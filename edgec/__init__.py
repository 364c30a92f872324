from .errors import EdgecError
