//! Which rows a view keeps: the states and owners the user asked for.

use super::attribute::{Owner, Row};
use crate::model::StateSet;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OwnerFilter {
    pub namespace: Option<String>,
    pub pod: Option<String>,
    /// A container's name, or its id from 12 characters up.
    pub container: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Filter {
    pub states: StateSet,
    pub owner: OwnerFilter,
}

impl Filter {
    pub fn keeps(&self, row: &Row<'_>, owner: &Owner<'_>) -> bool {
        self.states.contains(row.socket.state) && self.owner.matches(owner)
    }
}

impl OwnerFilter {
    pub fn matches(&self, owner: &Owner<'_>) -> bool {
        let wanted = |filter: &Option<String>, value: Option<&str>| {
            filter.as_deref().map_or(true, |f| value == Some(f))
        };
        let container = self.container.as_deref().map_or(true, |f| {
            owner.container == Some(f)
                || owner
                    .container_id
                    .is_some_and(|id| f.len() >= 12 && id.starts_with(f))
        });
        wanted(&self.namespace, owner.namespace) && wanted(&self.pod, owner.pod) && container
    }
}
