//! The reward stage's data: the character catalog (match by middle category) and the SQLite
//! ownership store (`UNIQUE(user_id, character_id)`).
//!
//! Ownership writes are fire-and-forget as in Eco²: the reward is answered at once and a
//! writer thread inserts in batches, one transaction per batch.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use crate::metrics::Metrics;
use crate::result::Reward;
use rusqlite::{Connection, params};
use serde::Deserialize;

/// A collectible character.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Character {
    pub id: String,
    pub name: String,
    /// The middle category it is awarded for; empty = never matched.
    pub match_label: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub dialog: String,
}

impl Character {
    /// The `reward` object of the result.
    pub fn reward(&self, middle: &str) -> Reward {
        Reward {
            name: self.name.clone(),
            dialog: self.dialog.clone(),
            match_reason: format!("middle_category={middle}"),
            kind: self.kind.clone(),
        }
    }
}

/// Characters in catalog order.
pub(crate) struct Catalog {
    characters: Vec<Character>,
}

impl Catalog {
    pub fn embedded() -> Self {
        let characters = serde_json::from_str(include_str!("../data/characters.json"))
            .expect("embedded characters.json is valid");
        Self { characters }
    }

    /// The first character whose match label equals `middle`.
    pub fn find(&self, middle: &str) -> Option<&Character> {
        if middle.is_empty() {
            return None;
        }
        self.characters.iter().find(|c| c.match_label == middle)
    }
}

/// Error opening the ownership database.
#[derive(Debug, thiserror::Error)]
#[error("cannot open the ownership database {path}: {source}")]
pub struct DatabaseError {
    path: String,
    source: rusqlite::Error,
}

struct Ownership {
    user_id: String,
    character: Character,
}

/// Handle to the writer thread.
pub(crate) struct OwnershipStore {
    sender: Mutex<Option<crossbeam_channel::Sender<Ownership>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
}

const BATCH: usize = 256;

impl OwnershipStore {
    /// Opens (or creates) the database and starts the writer thread.
    pub fn open(
        path: Option<&Path>,
        catalog: &Catalog,
        metrics: Arc<Metrics>,
    ) -> Result<Self, DatabaseError> {
        let name = path.map_or(":memory:".to_string(), |p| p.display().to_string());
        let error = |source| DatabaseError {
            path: name.clone(),
            source,
        };
        let connection = match path {
            Some(path) => Connection::open(path),
            None => Connection::open_in_memory(),
        }
        .map_err(error)?;
        init(&connection, catalog).map_err(error)?;
        let (sender, receiver) = crossbeam_channel::unbounded();
        let writer = std::thread::Builder::new()
            .name("ownership-writer".into())
            .spawn(move || write_loop(connection, receiver, &metrics))
            .expect("spawning the ownership writer thread");
        Ok(Self {
            sender: Mutex::new(Some(sender)),
            writer: Mutex::new(Some(writer)),
        })
    }

    /// Queues the ownership of `character` by `user_id`; a repeat is counted, not an error.
    pub fn record(&self, user_id: &str, character: &Character) {
        if let Some(sender) = &*self.sender.lock().expect("ownership sender lock") {
            let _ = sender.send(Ownership {
                user_id: user_id.to_string(),
                character: character.clone(),
            });
        }
    }

    /// Writes what is queued and stops the writer (blocking).
    pub fn close(&self) {
        self.sender.lock().expect("ownership sender lock").take();
        if let Some(writer) = self.writer.lock().expect("ownership writer lock").take() {
            let _ = writer.join();
        }
    }
}

impl Drop for OwnershipStore {
    fn drop(&mut self) {
        self.close();
    }
}

fn init(connection: &Connection, catalog: &Catalog) -> rusqlite::Result<()> {
    connection.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = NORMAL;
         CREATE TABLE IF NOT EXISTS characters (
             id TEXT PRIMARY KEY,
             name TEXT NOT NULL,
             match_label TEXT NOT NULL,
             type TEXT NOT NULL
         );
         CREATE TABLE IF NOT EXISTS user_characters (
             id INTEGER PRIMARY KEY,
             user_id TEXT NOT NULL,
             character_id TEXT NOT NULL REFERENCES characters(id),
             character_name TEXT NOT NULL,
             source TEXT NOT NULL DEFAULT 'scan',
             acquired_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
             UNIQUE(user_id, character_id)
         );",
    )?;
    let mut insert = connection.prepare(
        "INSERT OR IGNORE INTO characters (id, name, match_label, type) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for c in &catalog.characters {
        insert.execute(params![c.id, c.name, c.match_label, c.kind])?;
    }
    Ok(())
}

fn write_loop(
    mut connection: Connection,
    receiver: crossbeam_channel::Receiver<Ownership>,
    metrics: &Metrics,
) {
    let mut batch = Vec::with_capacity(BATCH);
    while let Ok(first) = receiver.recv() {
        batch.push(first);
        batch.extend(receiver.try_iter().take(BATCH - 1));
        match write_batch(&mut connection, &batch) {
            Ok(inserted) => {
                let existing = batch.len() - inserted;
                count(metrics, "inserted", inserted);
                count(metrics, "existing", existing);
            }
            Err(e) => {
                tracing::warn!(error = %e, writes = batch.len(), "ownership write failed");
                count(metrics, "error", batch.len());
            }
        }
        batch.clear();
    }
}

fn count(metrics: &Metrics, outcome: &'static str, n: usize) {
    if n > 0 {
        metrics
            .ownership_writes
            .get_or_create(&crate::metrics::OutcomeLabel { outcome })
            .inc_by(n as u64);
    }
}

/// Inserts a batch in one transaction; returns how many rows were new.
fn write_batch(connection: &mut Connection, batch: &[Ownership]) -> rusqlite::Result<usize> {
    let tx = connection.transaction()?;
    let mut inserted = 0;
    {
        let mut insert = tx.prepare_cached(
            "INSERT INTO user_characters (user_id, character_id, character_name) \
             VALUES (?1, ?2, ?3) ON CONFLICT (user_id, character_id) DO NOTHING",
        )?;
        for o in batch {
            inserted += insert.execute(params![o.user_id, o.character.id, o.character.name])?;
        }
    }
    tx.commit()?;
    Ok(inserted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_matches_eight_recyclable_middles() {
        let catalog = Catalog::embedded();
        for middle in [
            "paper",
            "can",
            "glass_bottle",
            "pet_bottle",
            "plastic",
            "vinyl",
            "styrofoam",
            "clothing",
        ] {
            assert_eq!(catalog.find(middle).unwrap().match_label, middle);
        }
        for middle in ["paper_pack", "metal", "small_electronics", "composite", ""] {
            assert!(catalog.find(middle).is_none(), "{middle}");
        }
    }

    #[test]
    fn ownership_is_written_once_per_user_and_character() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("own.sqlite3");
        let catalog = Catalog::embedded();
        let metrics = Arc::new(Metrics::new(&[]));
        let store = OwnershipStore::open(Some(&path), &catalog, metrics).unwrap();
        let can = catalog.find("can").unwrap();
        let paper = catalog.find("paper").unwrap();
        store.record("u1", can);
        store.record("u1", can);
        store.record("u1", paper);
        store.record("u2", can);
        store.close();
        let connection = Connection::open(&path).unwrap();
        let rows: i64 = connection
            .query_row("SELECT COUNT(*) FROM user_characters", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 3);
    }
}
