//! The SQLite the store runs on is built as `.cargo/config.toml` says: without memory
//! statistics, which would take a global mutex on each of SQLite's allocations. A build
//! that lost the setting (the file moved, the variable renamed) fails here rather than
//! quietly running slower.

use sqlx::Connection;

#[tokio::test]
async fn sqlite_is_built_without_memory_statistics() {
    let mut conn = sqlx::SqliteConnection::connect("sqlite::memory:")
        .await
        .unwrap();
    let options: Vec<String> =
        sqlx::query_scalar("SELECT compile_options FROM pragma_compile_options")
            .fetch_all(&mut conn)
            .await
            .unwrap();
    assert!(
        options.iter().any(|o| o == "DEFAULT_MEMSTATUS=0"),
        "compile options: {options:?}"
    );
}
