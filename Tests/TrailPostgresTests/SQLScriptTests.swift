import XCTest

@testable import TrailPostgres

final class SQLScriptTests: XCTestCase {
    func testSplitsAtTopLevelSemicolons() {
        XCTAssertEqual(SQLScript.statements("CREATE TABLE a (x int); CREATE INDEX ON a (x);\n"),
                       ["CREATE TABLE a (x int)", "CREATE INDEX ON a (x)"])
        XCTAssertEqual(SQLScript.statements("SELECT 1"), ["SELECT 1"])
        XCTAssertEqual(SQLScript.statements(""), [])
        XCTAssertEqual(SQLScript.statements(" ;; \n ; "), [])
    }

    func testSemicolonsInsideLiteralsAndIdentifiersStay() {
        XCTAssertEqual(SQLScript.statements("INSERT INTO t VALUES ('a;b', 'it''s;'); SELECT \"we;ird\"\"\" FROM t"),
                       ["INSERT INTO t VALUES ('a;b', 'it''s;')", "SELECT \"we;ird\"\"\" FROM t"])
        XCTAssertEqual(SQLScript.statements(#"SELECT E'back\'slash;'; SELECT 2"#),
                       [#"SELECT E'back\'slash;'"#, "SELECT 2"])
        // Not an escape string: the backslash is a plain character and '' ends nothing early.
        XCTAssertEqual(SQLScript.statements(#"SELECT 'a\'; SELECT 2"#), [#"SELECT 'a\'"#, "SELECT 2"])
        // An identifier ending in e before a quote is not an E'' prefix.
        XCTAssertEqual(SQLScript.statements(#"SELECT type'x\'; SELECT 3"#), [#"SELECT type'x\'"#, "SELECT 3"])
    }

    func testDollarQuotes() {
        let fn = """
            CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $$
            BEGIN
                PERFORM 1; RETURN 2;
            END $$
            """
        let tagged = "DO $body$ BEGIN RAISE NOTICE 'x;$$;'; END $body$"
        XCTAssertEqual(SQLScript.statements(fn + ";\n" + tagged + "; SELECT 1"), [fn, tagged, "SELECT 1"])
        // $1 is a parameter, a$b$ an identifier: neither opens a quote.
        XCTAssertEqual(SQLScript.statements("SELECT $1; SELECT a$b$ FROM t; SELECT 2"),
                       ["SELECT $1", "SELECT a$b$ FROM t", "SELECT 2"])
    }

    func testComments() {
        let script = """
            -- a comment; with a semicolon
            CREATE TABLE a (x int); -- trailing; comment
            /* block; /* nested; */ still comment; */
            CREATE TABLE b (y int) /* ; */;
            -- only a comment at the end;
            """
        XCTAssertEqual(SQLScript.statements(script), [
            "-- a comment; with a semicolon\nCREATE TABLE a (x int)",
            // A comment after a `;` belongs to the next statement; the server does not mind.
            "-- trailing; comment\n/* block; /* nested; */ still comment; */\nCREATE TABLE b (y int) /* ; */",
        ])
        XCTAssertEqual(SQLScript.statements("SELECT '--not a comment;'"), ["SELECT '--not a comment;'"])
    }

    func testUnterminatedQuoteSwallowsTheRest() {
        // The server reports the error; the split must not invent statements.
        XCTAssertEqual(SQLScript.statements("SELECT 'x; SELECT 2"), ["SELECT 'x; SELECT 2"])
        XCTAssertEqual(SQLScript.statements("SELECT $q$ x; y"), ["SELECT $q$ x; y"])
    }
}
