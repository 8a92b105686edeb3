//! The database file: its absolute path, one process per file, and a check of its tables before
//! anything is written.
//!
//! SQLite serves one process here (one connection, cron jobs that assume they are alone), so a
//! second process on the same file must not start. The lock is an exclusive advisory lock
//! (`flock`) on `<file>.lock` beside the database: released by the kernel when the process ends,
//! however it ends, and invisible to SQLite's own locks, so backup tools (`sqlite3 .backup`) keep
//! working. Locking the database file itself would need a second descriptor on it, and closing
//! that would drop SQLite's POSIX locks. Storages of one process share the lock, so tests may
//! open a file twice.

use std::collections::{HashMap, HashSet};
use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};

use portcullis_core::storage::schema_shape;
use portcullis_core::storage::StorageError;
use rusqlite::Connection;

/// Held while a storage of this process uses the file.
pub struct FileLock {
    _file: File,
}

/// Lock files of this process, by database path: a second storage on a file shares the lock.
static HELD: Mutex<Option<HashMap<PathBuf, Weak<FileLock>>>> = Mutex::new(None);

/// `path` made absolute, with its directory resolved (symbolic links, `..`), so that two spellings
/// of one file take the same lock and messages say exactly which file.
pub fn absolute(path: &str) -> Result<PathBuf, StorageError> {
    let given = std::path::absolute(path)
        .map_err(|e| StorageError::Unavailable(format!("cannot open the SQLite database '{path}': {e}")))?;
    let name = given.file_name().ok_or_else(|| {
        StorageError::Unavailable(format!("cannot open the SQLite database '{}': not a file name", given.display()))
    })?;
    let dir = given.parent().unwrap_or(Path::new("/"));
    let dir = dir.canonicalize().map_err(|e| {
        StorageError::Unavailable(format!(
            "cannot open the SQLite database '{}': its directory '{}': {e}",
            given.display(),
            dir.display()
        ))
    })?;
    Ok(dir.join(name))
}

/// Takes the process's lock on the database at `path` (absolute), or shares it when this process
/// holds it already. The first time, also checks that the file can be opened for reading and
/// writing, so that an unusable file is reported with the operating system's reason (SQLite would
/// say only "unable to open database file", or open a read-only file read-only and fail later).
pub fn lock(path: &Path) -> Result<Arc<FileLock>, StorageError> {
    let mut held = HELD.lock().map_err(|_| StorageError::Unavailable("SQLite lock registry poisoned".into()))?;
    let held = held.get_or_insert_with(HashMap::new);
    if let Some(lock) = held.get(path).and_then(Weak::upgrade) {
        return Ok(lock);
    }
    let mut lock_path = path.as_os_str().to_owned();
    lock_path.push(".lock");
    let lock_path = PathBuf::from(lock_path);
    let file = OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&lock_path).map_err(|e| {
        StorageError::Unavailable(format!("cannot create the lock file '{}' of the SQLite database: {e}", lock_path.display()))
    })?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            return Err(StorageError::Unavailable(format!(
                "the SQLite database '{}' is in use by another process (it holds '{}'): SQLite serves one \
                 Portcullis process only; stop the other one, or use PostgreSQL to run several",
                path.display(),
                lock_path.display()
            )))
        }
        Err(TryLockError::Error(e)) => {
            return Err(StorageError::Unavailable(format!("cannot lock '{}': {e}", lock_path.display())))
        }
    }
    // Nobody in this process has the database open (we would have found its lock), so this
    // descriptor cannot disturb SQLite's locks when it closes.
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|e| StorageError::Unavailable(format!("cannot open the SQLite database '{}': {e}", path.display())))?;
    let lock = Arc::new(FileLock { _file: file });
    held.retain(|_, l| l.strong_count() > 0);
    held.insert(path.to_owned(), Arc::downgrade(&lock));
    Ok(lock)
}

/// Refuses a file whose existing tables lack columns of `schema`: written by another program or
/// another version. Reads only; runs before anything is written.
pub fn check_tables(conn: &Connection, path: &Path, schema: &str) -> Result<(), StorageError> {
    let read = |e: rusqlite::Error| StorageError::Unavailable(format!("cannot read the SQLite database '{}': {e}", path.display()));
    let mut found: HashMap<String, HashSet<String>> = HashMap::new();
    let mut stmt = conn
        .prepare("SELECT m.name, p.name FROM sqlite_master m JOIN pragma_table_info(m.name) p WHERE m.type = 'table'")
        .map_err(read)?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))).map_err(read)?;
    for row in rows {
        let (table, column) = row.map_err(read)?;
        found.entry(table).or_default().insert(column);
    }
    let mismatches = schema_shape::mismatches(&schema_shape::expected_columns(schema), &found, str::to_owned);
    if mismatches.is_empty() {
        return Ok(());
    }
    Err(StorageError::Query(format!(
        "the SQLite database '{}' has tables without columns Portcullis needs ({}): it was written by \
         another program or another version; nothing was changed",
        path.display(),
        schema_shape::describe(&mismatches)
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("portcullis-file-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d.canonicalize().unwrap()
    }

    #[test]
    fn absolute_resolves_the_directory_and_names_missing_ones() {
        let dir = temp_dir("abs");
        let spelled = format!("{}/sub/../x.db", dir.display());
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        assert_eq!(absolute(&spelled).unwrap(), dir.join("x.db"));
        let err = absolute(&format!("{}/missing/x.db", dir.display())).unwrap_err().to_string();
        assert!(err.contains(&format!("{}/missing/x.db", dir.display())) && err.contains("No such file or directory"), "{err}");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn the_lock_is_shared_within_a_process_and_released_when_dropped() {
        let dir = temp_dir("lock");
        let path = dir.join("x.db");
        let a = lock(&path).unwrap();
        let b = lock(&path).unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        // Another open file description (as another process would have) cannot take it.
        let other = File::open(dir.join("x.db.lock")).unwrap();
        assert!(matches!(other.try_lock(), Err(TryLockError::WouldBlock)));
        drop((a, b));
        assert!(other.try_lock().is_ok(), "released with the last storage");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn a_database_with_the_whole_schema_passes() {
        // The seed's 35 tables and the newer plugin's 3 SAML and 5 WebAuthn tables.
        assert_eq!(schema_shape::expected_columns(crate::SCHEMA).len(), 35 + 3 + 5 + 1);
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(crate::SCHEMA).unwrap();
        check_tables(&conn, Path::new("/x.db"), crate::SCHEMA).unwrap();
    }

    #[test]
    fn tables_of_another_shape_are_refused() {
        let conn = Connection::open_in_memory().unwrap();
        let schema = "CREATE TABLE IF NOT EXISTS apps (\napp_id VARCHAR(64),\ncreated_at_time BIGINT\n);\n";
        check_tables(&conn, Path::new("/x.db"), schema).unwrap();
        conn.execute_batch("CREATE TABLE apps (app_id TEXT);").unwrap();
        let err = check_tables(&conn, Path::new("/x.db"), schema).unwrap_err().to_string();
        assert!(err.contains("'/x.db'") && err.contains("apps (created_at_time)") && err.contains("nothing was changed"), "{err}");
    }
}
