// redact_postgres_url: no password reaches a log line or an error message, in either form of
// connection string libpq accepts.
#include <catch2/catch.hpp>
#include <string>

#include "chat/postgres_store.hpp"

using chat::redact_postgres_url;

TEST_CASE("redact_postgres_url hides the password of a URI", "[postgres][redact]") {
    CHECK(redact_postgres_url("postgresql://u:secret@h/db") == "postgresql://u:***@h/db");
    CHECK(redact_postgres_url("postgres://u:secret@h:5432/db?sslmode=require") ==
          "postgres://u:***@h:5432/db?sslmode=require");
    CHECK(redact_postgres_url("postgresql://u:se@cret@h1,h2/db") == "postgresql://u:***@h1,h2/db");
    CHECK(redact_postgres_url("postgresql://u@h/db?password=secret&sslmode=disable") ==
          "postgresql://u@h/db?password=***&sslmode=disable");
    CHECK(redact_postgres_url("postgresql://u:p1@h/db?application_name=x&password=p2") ==
          "postgresql://u:***@h/db?application_name=x&password=***");
    // Nothing secret: unchanged.
    CHECK(redact_postgres_url("postgresql:///chat?host=%2Ftmp%2Fpg&user=postgres") ==
          "postgresql:///chat?host=%2Ftmp%2Fpg&user=postgres");
    CHECK(redact_postgres_url("postgresql://u@h/db") == "postgresql://u@h/db");
}

TEST_CASE("redact_postgres_url hides the password of key=value pairs", "[postgres][redact]") {
    CHECK(redact_postgres_url("host=h dbname=chat password=secret user=u") ==
          "host=h dbname=chat password=*** user=u");
    CHECK(redact_postgres_url("password = 'sec ret\\' more' host=h") == "password = *** host=h");
    CHECK(redact_postgres_url("password=secret") == "password=***");
    CHECK(redact_postgres_url("host=h dbname=chat") == "host=h dbname=chat");
    const std::string redacted = redact_postgres_url("user=u password='a b c' dbname=x");
    CHECK(redacted.find("a b c") == std::string::npos);
    CHECK(redacted.find("dbname=x") != std::string::npos);
}
