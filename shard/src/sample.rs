//! A sample: a key plus named members.

/// One member of a sample: `<field>.<ext>` plus its bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    /// `<field>.<ext>`, e.g. `volume.npy`, `meta.json` (zstd-compressed members end in `.zst`).
    pub name: String,
    /// The stored bytes.
    pub data: Vec<u8>,
}

/// A sample: the unit a training job reads. Its members become adjacent tar entries
/// `<key>.<name>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sample {
    /// The key (see `bomdata_schemas::key`); no dots.
    pub key: String,
    /// Pseudonymous subject, recorded in the shard index for subject-level splits.
    pub subject: Option<String>,
    /// Members in the order they are written.
    pub members: Vec<Member>,
}

impl Sample {
    /// An empty sample.
    pub fn new(key: impl Into<String>) -> Self {
        Sample {
            key: key.into(),
            subject: None,
            members: Vec::new(),
        }
    }

    /// Sets the pseudonymous subject (builder style).
    pub fn with_subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = Some(subject.into());
        self
    }

    /// Adds a member (builder style).
    pub fn with(mut self, name: impl Into<String>, data: Vec<u8>) -> Self {
        self.push(name, data);
        self
    }

    /// Adds a member.
    pub fn push(&mut self, name: impl Into<String>, data: Vec<u8>) {
        self.members.push(Member {
            name: name.into(),
            data,
        });
    }

    /// Adds a `.json` member serialised from `value` (keys in struct order, compact).
    pub fn push_json<T: serde::Serialize>(&mut self, field: &str, value: &T) -> crate::Result<()> {
        let data = serde_json::to_vec(value).map_err(crate::Error::json("a sample member"))?;
        self.push(format!("{field}.json"), data);
        Ok(())
    }

    /// The member named `name`, if any.
    pub fn member(&self, name: &str) -> Option<&Member> {
        self.members.iter().find(|m| m.name == name)
    }

    /// Total bytes of member data.
    pub fn data_len(&self) -> u64 {
        self.members.iter().map(|m| m.data.len() as u64).sum()
    }
}
