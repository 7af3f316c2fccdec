"""improve: from an Inadequate CQC rating to a better one."""

from improve.settings import point_piccolo_here

point_piccolo_here()

__version__ = "0.1.0"
