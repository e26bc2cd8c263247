//! Who holds which display name on a server, so that names can be trusted: while its owner is connected,
//! a name is nobody else's, and neither is any name that looks like it (same UTS #39 skeleton, see
//! [`protocol::name_key`]). A second `bob`, or `bob` with a Cyrillic `о`, is refused with a reason rather
//! than renamed: the client keeps the name it had and can pick another.

use std::collections::HashMap;

use crate::model::PeerId;
use crate::protocol;

#[derive(Debug, Default)]
pub(super) struct Names {
    /// Each name held, by its skeleton: the owner and the name as it was given.
    held: HashMap<String, (PeerId, String)>,
    /// Each owner's skeleton, so that a rename releases the old name.
    keys: HashMap<PeerId, String>,
}

impl Names {
    /// Gives `name` (already cleaned, [`protocol::clean_name`]) to `id`, releasing the name it had; or says
    /// why not. A name whose owner is no longer `connected` is free: names are released as their owners
    /// leave without the reader having to say so, and the table never holds more than the clients
    /// connected at the last claim (`live` of them), plus one.
    pub(super) fn claim(
        &mut self,
        id: PeerId,
        name: &str,
        live: usize,
        connected: impl Fn(PeerId) -> bool,
    ) -> Result<String, String> {
        let key = protocol::name_key(name);
        if let Some((owner, held)) = self.held.get(&key)
            && *owner != id
            && connected(*owner)
        {
            return Err(if held == name {
                format!("name '{name}' refused: a connected client has it")
            } else {
                format!("name '{name}' refused: it looks like '{held}', a connected client's name")
            });
        }
        self.release(id);
        if self.keys.len() >= live {
            self.keys.retain(|owner, _| connected(*owner));
            self.held.retain(|_, (owner, _)| connected(*owner));
        }
        self.held.insert(key.clone(), (id, name.to_string()));
        self.keys.insert(id, key);
        Ok(name.to_string())
    }

    /// `id` no longer has a name (`/name` with nothing after it).
    pub(super) fn release(&mut self, id: PeerId) {
        if let Some(key) = self.keys.remove(&id)
            && self.held.get(&key).is_some_and(|(owner, _)| *owner == id)
        {
            self.held.remove(&key);
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.held.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_one_clients_while_it_is_connected() {
        let mut n = Names::default();
        let all = |_| true;
        assert_eq!(n.claim(1, "bob", 1, all), Ok("bob".into()));
        assert!(n.claim(2, "bob", 2, all).unwrap_err().contains("a connected client has it"));
        for lookalike in ["b\u{43e}b", "b\u{3bf}b"] {
            let e = n.claim(2, lookalike, 2, all).unwrap_err();
            assert!(e.contains("looks like 'bob'"), "{lookalike}: {e}");
        }
        // The owner may take it again, or a lookalike of its own name.
        assert_eq!(n.claim(1, "bob", 2, all), Ok("bob".into()));
        assert_eq!(n.claim(1, "b\u{43e}b", 2, all), Ok("b\u{43e}b".into()));
        // A rename frees the old name.
        assert_eq!(n.claim(1, "robert", 2, all), Ok("robert".into()));
        assert_eq!(n.claim(2, "bob", 2, all), Ok("bob".into()));
        n.release(2);
        assert_eq!(n.claim(3, "bob", 3, all), Ok("bob".into()));
    }

    #[test]
    fn names_of_clients_that_left_are_free_and_not_kept() {
        let mut n = Names::default();
        for id in 1..=100 {
            assert!(n.claim(id, &format!("user{id}"), 100, |_| true).is_ok());
        }
        assert_eq!(n.len(), 100);
        // Only client 100 is still connected: its name is kept, the others are free and dropped.
        let only_100 = |id| id == 100;
        assert!(n.claim(101, "user100", 2, only_100).is_err());
        assert_eq!(n.claim(101, "user5", 2, only_100), Ok("user5".into()));
        assert!(n.len() <= 2, "{} names kept", n.len());
    }
}
