//! [`MemoryObjectStore`]: an [`ObjectStore`] in memory, for tests and for embedding
//! sagestack's S3 pieces without a database.
//!
//! It follows the trait's contract exactly as the SQL backends do (the same
//! `NotFound` / `AlreadyExists` / `Conflict` answers, keys ordered bytewise, pages cut
//! after `after`), so a test that passes against it exercises the same decisions as
//! production. It is not durable and not shared between processes: never the server's
//! store.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;
use bytes::Bytes;
use sagestack_store::{
    BucketRecord, KeyRange, ObjectMeta, ObjectPage, ObjectRecord, ObjectStore, PartRecord,
    StoreError, UploadRecord,
};

#[derive(Default)]
struct Bucket {
    record: Option<BucketRecord>,
    objects: BTreeMap<String, ObjectRecord>,
}

struct Upload {
    record: UploadRecord,
    parts: BTreeMap<i32, (PartRecord, Bytes)>,
}

#[derive(Default)]
struct State {
    buckets: BTreeMap<String, Bucket>,
    uploads: BTreeMap<String, Upload>,
}

/// See the module documentation.
#[derive(Default)]
pub struct MemoryObjectStore {
    state: Mutex<State>,
}

impl MemoryObjectStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        // A panic while holding the lock leaves plain data behind: keep using it.
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut state)
    }
}

fn bucket_mut<'a>(state: &'a mut State, name: &str) -> Result<&'a mut Bucket, StoreError> {
    state
        .buckets
        .get_mut(name)
        .filter(|b| b.record.is_some())
        .ok_or(StoreError::NotFound)
}

/// Puts (or replaces) the object `meta` names, as a put and a completed upload both do.
fn store_object(state: &mut State, meta: &ObjectMeta, body: Bytes) -> Result<(), StoreError> {
    let b = bucket_mut(state, &meta.bucket)?;
    let record = ObjectRecord {
        meta: meta.clone(),
        body,
    };
    b.objects.insert(meta.key.clone(), record);
    Ok(())
}

fn bucket_ref<'a>(state: &'a State, name: &str) -> Result<&'a Bucket, StoreError> {
    state
        .buckets
        .get(name)
        .filter(|b| b.record.is_some())
        .ok_or(StoreError::NotFound)
}

#[async_trait]
impl ObjectStore for MemoryObjectStore {
    async fn create_bucket(&self, bucket: &BucketRecord) -> Result<(), StoreError> {
        self.with(|s| {
            if s.buckets.contains_key(&bucket.name) {
                return Err(StoreError::AlreadyExists);
            }
            s.buckets.insert(
                bucket.name.clone(),
                Bucket {
                    record: Some(bucket.clone()),
                    objects: BTreeMap::new(),
                },
            );
            Ok(())
        })
    }

    async fn get_bucket(&self, name: &str) -> Result<Option<BucketRecord>, StoreError> {
        Ok(self.with(|s| s.buckets.get(name).and_then(|b| b.record.clone())))
    }

    async fn update_bucket(&self, name: &str, document: &str) -> Result<(), StoreError> {
        self.with(|s| {
            let b = bucket_mut(s, name)?;
            if let Some(r) = b.record.as_mut() {
                r.document = document.into();
            }
            Ok(())
        })
    }

    async fn list_buckets(&self) -> Result<Vec<BucketRecord>, StoreError> {
        Ok(self.with(|s| {
            s.buckets
                .values()
                .filter_map(|b| b.record.clone())
                .collect()
        }))
    }

    async fn delete_bucket(&self, name: &str) -> Result<(), StoreError> {
        self.with(|s| {
            let b = bucket_ref(s, name)?;
            if !b.objects.is_empty() || s.uploads.values().any(|u| u.record.bucket == name) {
                return Err(StoreError::Conflict);
            }
            s.buckets.remove(name);
            Ok(())
        })
    }

    async fn put_object(&self, meta: &ObjectMeta, body: Bytes) -> Result<(), StoreError> {
        self.with(|s| store_object(s, meta, body))
    }

    async fn get_object(
        &self,
        bucket: &str,
        key: &str,
    ) -> Result<Option<ObjectRecord>, StoreError> {
        self.with(|s| Ok(bucket_ref(s, bucket)?.objects.get(key).cloned()))
    }

    async fn head_object(&self, bucket: &str, key: &str) -> Result<Option<ObjectMeta>, StoreError> {
        self.with(|s| {
            Ok(bucket_ref(s, bucket)?
                .objects
                .get(key)
                .map(|o| o.meta.clone()))
        })
    }

    async fn delete_object(&self, bucket: &str, key: &str) -> Result<bool, StoreError> {
        self.with(|s| Ok(bucket_mut(s, bucket)?.objects.remove(key).is_some()))
    }

    async fn list_objects(&self, range: KeyRange<'_>) -> Result<ObjectPage, StoreError> {
        self.with(|s| {
            let b = bucket_ref(s, range.bucket)?;
            // String order is bytewise order for UTF-8, as the SQL backends sort.
            let mut matching = b
                .objects
                .iter()
                .filter(|(k, _)| {
                    k.starts_with(range.prefix) && range.after.is_none_or(|a| k.as_str() > a)
                })
                .map(|(_, o)| o.meta.clone());
            let objects: Vec<ObjectMeta> = matching.by_ref().take(range.limit).collect();
            let truncated = matching.next().is_some();
            Ok(ObjectPage { objects, truncated })
        })
    }

    async fn create_upload(&self, upload: &UploadRecord) -> Result<(), StoreError> {
        self.with(|s| {
            bucket_ref(s, &upload.bucket)?;
            if s.uploads.contains_key(&upload.upload_id) {
                return Err(StoreError::AlreadyExists);
            }
            s.uploads.insert(
                upload.upload_id.clone(),
                Upload {
                    record: upload.clone(),
                    parts: BTreeMap::new(),
                },
            );
            Ok(())
        })
    }

    async fn get_upload(&self, upload_id: &str) -> Result<Option<UploadRecord>, StoreError> {
        Ok(self.with(|s| s.uploads.get(upload_id).map(|u| u.record.clone())))
    }

    async fn list_uploads(&self, bucket: &str) -> Result<Vec<UploadRecord>, StoreError> {
        self.with(|s| {
            bucket_ref(s, bucket)?;
            let mut uploads: Vec<UploadRecord> = s
                .uploads
                .values()
                .filter(|u| u.record.bucket == bucket)
                .map(|u| u.record.clone())
                .collect();
            uploads.sort_by(|a, b| {
                (a.key.as_str(), a.initiated_micros).cmp(&(b.key.as_str(), b.initiated_micros))
            });
            Ok(uploads)
        })
    }

    async fn put_part(
        &self,
        upload_id: &str,
        part: &PartRecord,
        body: Bytes,
    ) -> Result<(), StoreError> {
        self.with(|s| {
            let u = s.uploads.get_mut(upload_id).ok_or(StoreError::NotFound)?;
            u.parts.insert(part.part_number, (part.clone(), body));
            Ok(())
        })
    }

    async fn list_parts(&self, upload_id: &str) -> Result<Vec<PartRecord>, StoreError> {
        self.with(|s| {
            let u = s.uploads.get(upload_id).ok_or(StoreError::NotFound)?;
            Ok(u.parts.values().map(|(p, _)| p.clone()).collect())
        })
    }

    async fn get_parts(
        &self,
        upload_id: &str,
        part_numbers: &[i32],
    ) -> Result<Vec<Option<Bytes>>, StoreError> {
        self.with(|s| {
            let u = s.uploads.get(upload_id).ok_or(StoreError::NotFound)?;
            Ok(part_numbers
                .iter()
                .map(|n| u.parts.get(n).map(|(_, b)| b.clone()))
                .collect())
        })
    }

    async fn complete_upload(
        &self,
        upload_id: &str,
        meta: &ObjectMeta,
        body: Bytes,
    ) -> Result<(), StoreError> {
        self.with(|s| {
            if !s.uploads.contains_key(upload_id) {
                return Err(StoreError::NotFound);
            }
            store_object(s, meta, body)?;
            s.uploads.remove(upload_id);
            Ok(())
        })
    }

    async fn abort_upload(&self, upload_id: &str) -> Result<bool, StoreError> {
        Ok(self.with(|s| s.uploads.remove(upload_id).is_some()))
    }
}

/// An object's metadata for `body` with an ETag, now as its modification time: what a
/// test or an embedder needs to call [`ObjectStore::put_object`] directly.
pub fn object_meta(bucket: &str, key: &str, body: &[u8]) -> ObjectMeta {
    ObjectMeta {
        bucket: bucket.to_string(),
        key: key.to_string(),
        size: body.len() as i64,
        // Not an MD5: a stable stand-in with S3's quoting (tests compare, never verify).
        etag: format!("\"{:032x}\"", fnv1a(body)),
        last_modified_micros: crate::bucket_provider::now_micros(),
        document: "{}".into(),
    }
}

fn fnv1a(bytes: &[u8]) -> u128 {
    let mut h: u128 = 0x6c62272e07bb014262b821756295c58d;
    for b in bytes {
        h ^= u128::from(*b);
        h = h.wrapping_mul(0x0000000001000000000000000000013B);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bucket(name: &str) -> BucketRecord {
        BucketRecord {
            name: name.into(),
            region: "us-east-1".into(),
            creation_micros: 1,
            document: "{}".into(),
        }
    }

    #[tokio::test]
    async fn follows_the_object_store_contract() {
        let s = MemoryObjectStore::new();
        s.create_bucket(&bucket("b")).await.unwrap();
        assert_eq!(
            s.create_bucket(&bucket("b")).await,
            Err(StoreError::AlreadyExists)
        );
        assert_eq!(
            s.put_object(&object_meta("nope", "k", b"x"), Bytes::new())
                .await,
            Err(StoreError::NotFound)
        );
        assert_eq!(s.get_object("nope", "k").await, Err(StoreError::NotFound));
        for k in ["b/2", "a", "b/1", "c"] {
            s.put_object(
                &object_meta("b", k, k.as_bytes()),
                Bytes::from(k.to_string()),
            )
            .await
            .unwrap();
        }
        let page = s
            .list_objects(KeyRange {
                bucket: "b",
                prefix: "b/",
                after: None,
                limit: 1,
            })
            .await
            .unwrap();
        assert_eq!(page.objects[0].key, "b/1");
        assert!(page.truncated);
        let page = s
            .list_objects(KeyRange {
                bucket: "b",
                prefix: "",
                after: Some("b/1"),
                limit: 10,
            })
            .await
            .unwrap();
        let keys: Vec<_> = page.objects.iter().map(|o| o.key.as_str()).collect();
        assert_eq!(keys, ["b/2", "c"]);
        assert!(!page.truncated);
        assert_eq!(
            s.get_object("b", "a").await.unwrap().unwrap().body,
            Bytes::from("a")
        );
        assert_eq!(s.get_object("b", "zz").await.unwrap(), None);
        assert_eq!(s.delete_bucket("b").await, Err(StoreError::Conflict));
        for k in ["b/2", "a", "b/1", "c"] {
            assert!(s.delete_object("b", k).await.unwrap());
        }
        assert!(!s.delete_object("b", "a").await.unwrap());
        let upload = UploadRecord {
            upload_id: "u1".into(),
            bucket: "b".into(),
            key: "big".into(),
            initiated_micros: 5,
            document: "{}".into(),
        };
        s.create_upload(&upload).await.unwrap();
        assert_eq!(s.delete_bucket("b").await, Err(StoreError::Conflict));
        let part = PartRecord {
            part_number: 1,
            size: 2,
            etag: "\"e\"".into(),
            last_modified_micros: 6,
        };
        s.put_part("u1", &part, Bytes::from("hi")).await.unwrap();
        assert_eq!(
            s.get_parts("u1", &[1, 2]).await.unwrap(),
            vec![Some(Bytes::from("hi")), None]
        );
        s.complete_upload("u1", &object_meta("b", "big", b"hi"), Bytes::from("hi"))
            .await
            .unwrap();
        assert_eq!(s.get_upload("u1").await.unwrap(), None);
        assert!(s.head_object("b", "big").await.unwrap().is_some());
        s.delete_object("b", "big").await.unwrap();
        s.delete_bucket("b").await.unwrap();
        assert_eq!(s.get_bucket("b").await.unwrap(), None);
        assert_eq!(s.delete_bucket("b").await, Err(StoreError::NotFound));
    }
}
