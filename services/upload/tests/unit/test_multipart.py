import pytest

from docstore_upload.domain.multipart import MAX_PARTS, MIB, MIN_PART, part_count, part_size

GIB = 1024 * MIB


def test_preferred_part_size_when_it_fits_in_10000_parts() -> None:
    assert part_size(1 * GIB, 16 * MIB) == 16 * MIB
    assert part_count(1 * GIB, 16 * MIB) == 64


@pytest.mark.parametrize("size", [6 * GIB, 200 * GIB, 4 * 1024 * GIB])
def test_files_over_5_gb_get_parts_large_enough_for_s3s_limit(size: int) -> None:
    chosen = part_size(size, 16 * MIB)
    assert chosen % MIB == 0 and chosen >= MIN_PART
    assert part_count(size, chosen) <= MAX_PARTS


def test_parts_are_never_below_s3s_minimum_and_objects_not_above_its_maximum() -> None:
    assert part_size(10, 1) == MIN_PART
    assert part_count(10, MIN_PART) == 1
    with pytest.raises(ValueError, match="at most"):
        part_size(6 * 1024 * GIB, 16 * MIB)
