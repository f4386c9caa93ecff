"""The Data Population tool against the sandbox's real MariaDB."""

from __future__ import annotations

import shutil
from pathlib import Path

import pymysql
import pytest

from cloudops.datapop import MySqlTarget, applied, discover, populate
from cloudops.errors import DataSetError
from cloudops.sql import SqlSyntaxError, split_statements
from tests.app_source import EXAMPLE
from tests.mysql_query import query


def database_exists(target: MySqlTarget) -> bool:
    connection = pymysql.connect(
        host=target.host, port=target.port, user=target.user, password=target.password.get_secret_value()
    )
    try:
        with connection.cursor() as cursor:
            return bool(cursor.execute("SHOW DATABASES LIKE %s", (target.database,)))
    finally:
        connection.close()


@pytest.fixture
def datasets(tmp_path: Path) -> Path:
    folder = tmp_path / "datasets"
    shutil.copytree(EXAMPLE / "datasets", folder)
    return folder


def test_author_and_live_hold_their_own_and_the_shared_sets(mysql_target: MySqlTarget, datasets: Path) -> None:
    author = mysql_target
    live = mysql_target.model_copy(update={"database": mysql_target.database + "_live"})

    first = populate(author, datasets, "author")
    populate(live, datasets, "live")

    assert first.applied == ["V0001__common__schema", "V0002__common__reference_data", "V0003__author__author_content"]
    assert query(author, "SELECT value FROM setting WHERE name = 'environment'") == [("author",)]
    assert query(live, "SELECT value FROM setting WHERE name = 'environment'") == [("live",)]
    assert ("DRAFT-1",) in query(author, "SELECT sku FROM product")
    assert ("DRAFT-1",) not in query(live, "SELECT sku FROM product")
    assert query(live, "SELECT sku, quantity FROM customer_order") == [("MUG-1", 2)]
    assert query(author, "SELECT COUNT(*) FROM customer_order") == [(0,)]
    assert query(author, "SELECT name FROM product WHERE sku = 'TSHIRT-1'") == [("T-shirt; cotton",)]

    again = populate(author, datasets, "author")
    assert again.applied == [] and again.already == first.applied
    assert query(author, "SELECT COUNT(*) FROM product") == [(3,)]
    assert set(applied(live)) == {
        "V0001__common__schema",
        "V0002__common__reference_data",
        "V0004__live__live_settings",
    }


def test_a_data_set_edited_after_it_was_applied_is_refused(mysql_target: MySqlTarget, datasets: Path) -> None:
    populate(mysql_target, datasets, "author")
    reference = datasets / "common" / "V0002__reference_data.sql"
    reference.write_text(reference.read_text() + "INSERT INTO setting (name, value) VALUES ('sneaky', 'yes');\n")
    (datasets / "common" / "V0005__more.sql").write_text("INSERT INTO setting (name, value) VALUES ('more', 'yes');\n")

    with pytest.raises(DataSetError, match="data set V0002__common__reference_data changed after it was applied"):
        populate(mysql_target, datasets, "author")
    assert query(mysql_target, "SELECT COUNT(*) FROM setting WHERE name IN ('sneaky', 'more')") == [(0,)]


def test_a_failing_data_set_leaves_the_database_as_it_was(mysql_target: MySqlTarget, datasets: Path) -> None:
    populate(mysql_target, datasets, "live")
    before = query(mysql_target, "SELECT sku, name, price_cents FROM product ORDER BY sku")
    broken = datasets / "live" / "V0005__price_update.sql"
    broken.write_text(
        "UPDATE product SET price_cents = 1 WHERE sku = 'MUG-1';\n"
        "INSERT INTO product (sku, catalog_code, name, price_cents) VALUES ('NEW-1', 'main', 'New', 5);\n"
        "INSERT INTO product (sku, catalog_code, name, price_cents) VALUES ('BAD-1', 'no-such-catalog', 'Bad', 5);\n"
    )
    with pytest.raises(DataSetError, match=r"data set V0005__live__price_update failed at statement 3 .*foreign key"):
        populate(mysql_target, datasets, "live")
    assert query(mysql_target, "SELECT sku, name, price_cents FROM product ORDER BY sku") == before
    assert "V0005__live__price_update" not in applied(mysql_target)

    broken.write_text(broken.read_text().replace("no-such-catalog", "main"))
    assert populate(mysql_target, datasets, "live").applied == ["V0005__live__price_update"]
    assert query(mysql_target, "SELECT price_cents FROM product WHERE sku = 'MUG-1'") == [(1,)]


@pytest.mark.reliability(
    "input", "a data set version used twice in one database (common and author)", "refused naming both files"
)
@pytest.mark.reliability("input", "a gap in the data sets' versions", "refused naming the missing version")
@pytest.mark.reliability("input", "a data set file misnamed", "refused naming its path in the repository")
def test_a_gap_a_duplicate_or_a_bad_name_fails_before_touching_the_database(
    mysql_target: MySqlTarget, datasets: Path
) -> None:
    (datasets / "live" / "V0004__live_settings.sql").rename(datasets / "live" / "V0006__live_settings.sql")
    with pytest.raises(DataSetError, match="data sets in datasets have a gap: no data set has version 4"):
        populate(mysql_target, datasets, "live")
    assert not database_exists(mysql_target)

    # a version 3 in common as well as in author: they meet in the author database
    (datasets / "live" / "V0006__live_settings.sql").rename(datasets / "live" / "V0004__live_settings.sql")
    (datasets / "common" / "V0003__more.sql").write_text("SELECT 1;\n")
    with pytest.raises(
        DataSetError,
        match="version 3 is used twice for author: db/datasets/author/V0003__author_content.sql and "
        "db/datasets/common/V0003__more.sql; give each its own version",
    ):
        discover(datasets, "db/datasets")  # named by their paths in the application's repository
    (datasets / "common" / "V0003__more.sql").unlink()
    (datasets / "live" / "V0004__live_settings.sql").rename(datasets / "live" / "live settings.sql")
    with pytest.raises(DataSetError, match="datasets/live/live settings.sql: a data set's file name must look like"):
        discover(datasets)
    with pytest.raises(DataSetError, match="unknown environment 'staging'; use one of author, live"):
        populate(mysql_target, EXAMPLE / "datasets", "staging")
    assert not database_exists(mysql_target)


@pytest.mark.reliability(
    "input",
    "author and live data sets that both have a version 3 (Flyway's per-location sets)",
    "accepted: each database gets common plus its own, in version order",
)
def test_two_environments_may_use_the_same_version(mysql_target: MySqlTarget, datasets: Path) -> None:
    (datasets / "live" / "V0004__live_settings.sql").rename(datasets / "live" / "V0003__live_settings.sql")
    live = mysql_target.model_copy(update={"database": mysql_target.database + "_live"})
    assert populate(live, datasets, "live").applied == [
        "V0001__common__schema",
        "V0002__common__reference_data",
        "V0003__live__live_settings",
    ]
    assert populate(mysql_target, datasets, "author").applied[-1] == "V0003__author__author_content"


def test_split_statements_honours_quotes_and_comments() -> None:
    script = 'select \'a;b\'; -- c;\nselect "x\\";" /* ; */ ; # z;\nselect `we;ird` ;'
    assert split_statements(script) == ["select 'a;b'", 'select "x\\";"', "select `we;ird`"]
    with pytest.raises(SqlSyntaxError, match="unterminated quote"):
        split_statements("select 'oops;")
    with pytest.raises(SqlSyntaxError, match="DELIMITER is a mysql client command"):
        split_statements("DELIMITER //\nselect 1//")
