"""Numbers written into sentences: plurals and file sizes."""

from improve.words import counted, file_size


def test_counts_are_plural_only_when_they_should_be():
    assert counted(1, "row") == "1 row"
    assert counted(0, "row") == "0 rows"
    assert counted(3, "quality statement") == "3 quality statements"
    assert counted(2, "person", "people") == "2 people"


def test_file_sizes_read_as_people_expect():
    assert file_size(46) == "46 bytes"
    assert file_size(1) == "1 byte"
    assert file_size(2048) == "2 KB"
    assert file_size(3_565_158) == "3.4 MB"
