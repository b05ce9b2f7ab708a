//! Opaque `NextToken`s for keyset pagination.
//!
//! A token records where the previous page ended (the sort key of its last item) and
//! the order it was produced in, never an offset: creating or deleting projects
//! between pages neither skips nor repeats the projects that remain. A token is only
//! valid with the sort order it was issued for.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sagestack_store::{ProjectCursor, ProjectQuery, ProjectSort};
use serde::{Deserialize, Serialize};

use crate::error::SageMakerError;
use crate::projects::micros;
use crate::types::ListProjectsInput;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct ProjectToken {
    /// Format version.
    v: u8,
    /// `n` (Name) or `c` (CreationTime).
    s: char,
    /// Descending.
    d: bool,
    /// Creation time of the last item (microseconds).
    t: i64,
    /// Name of the last item.
    n: String,
}

/// Why a token was refused.
#[derive(Debug, PartialEq, Eq)]
pub struct InvalidToken;

fn sort_char(sort: ProjectSort) -> char {
    match sort {
        ProjectSort::Name => 'n',
        ProjectSort::CreationTime => 'c',
    }
}

/// Encodes the position after `last` for a list in this order.
pub fn encode_project_token(sort: ProjectSort, descending: bool, last: &ProjectCursor) -> String {
    let token = ProjectToken {
        v: 1,
        s: sort_char(sort),
        d: descending,
        t: last.creation_micros,
        n: last.name.clone(),
    };
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&token).expect("token serializes"))
}

/// Decodes a token issued by [`encode_project_token`] for the same order.
pub fn decode_project_token(
    token: &str,
    sort: ProjectSort,
    descending: bool,
) -> Result<ProjectCursor, InvalidToken> {
    let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| InvalidToken)?;
    let t: ProjectToken = serde_json::from_slice(&bytes).map_err(|_| InvalidToken)?;
    if t.v != 1 || t.s != sort_char(sort) || t.d != descending {
        return Err(InvalidToken);
    }
    Ok(ProjectCursor {
        creation_micros: t.t,
        name: t.n,
    })
}

/// Cuts a keyset page: the store was asked for `limit + 1` rows so that one extra row
/// tells whether another page exists. Truncates `rows` to `limit` and returns the token
/// for the next page (built from the last row kept), or `None` on the last page.
pub fn cut_page<R>(
    rows: &mut Vec<R>,
    limit: usize,
    sort: ProjectSort,
    descending: bool,
    cursor: impl Fn(&R) -> ProjectCursor,
) -> Option<String> {
    if rows.len() <= limit {
        return None;
    }
    rows.truncate(limit);
    rows.last()
        .map(|last| encode_project_token(sort, descending, &cursor(last)))
}

/// The keyset query of a ListProjects or ListModelPackageGroups call (the same input
/// members), asking one row past its page size, which it returns too. The calls differ
/// only in their default order (`descending` when `SortOrder` is absent), page size and
/// how they word a refused token (`bad_token`).
pub(crate) fn keyset_query(
    input: ListProjectsInput,
    descending: bool,
    default_limit: usize,
    bad_token: &str,
) -> Result<(ProjectQuery, usize), SageMakerError> {
    let sort = match input.sort_by.as_deref() {
        Some("Name") => ProjectSort::Name,
        _ => ProjectSort::CreationTime,
    };
    let descending = match input.sort_order.as_deref() {
        Some("Ascending") => false,
        Some("Descending") => true,
        _ => descending,
    };
    let limit = input.max_results.map_or(default_limit, |n| n as usize);
    let mut query = ProjectQuery::new(sort, descending, limit + 1);
    if let Some(token) = input.next_token.as_deref().filter(|t| !t.is_empty()) {
        query.after = Some(
            decode_project_token(token, sort, descending)
                .map_err(|_| SageMakerError::Validation(bad_token.into()))?,
        );
    }
    query.created_after = input.creation_time_after.map(micros);
    query.created_before = input.creation_time_before.map(micros);
    query.name_contains = input.name_contains;
    Ok((query, limit))
}

/// Where the page that ends at a record created at `creation_micros` named `name` ends.
pub(crate) fn cursor_after(creation_micros: i64, name: &str) -> ProjectCursor {
    ProjectCursor {
        creation_micros,
        name: name.to_string(),
    }
}

/// The key a ListTags call resumes after (`None` on the first page).
pub(crate) fn tag_after(next_token: Option<&str>) -> Result<Option<String>, SageMakerError> {
    next_token
        .filter(|t| !t.is_empty())
        .map(|t| {
            decode_tag_token(t)
                .map_err(|_| SageMakerError::Validation("The NextToken is not valid.".into()))
        })
        .transpose()
}

/// A `ListTags` token: the last key returned.
pub fn encode_tag_token(last_key: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("t1:{last_key}"))
}

pub fn decode_tag_token(token: &str) -> Result<String, InvalidToken> {
    let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| InvalidToken)?;
    let s = String::from_utf8(bytes).map_err(|_| InvalidToken)?;
    s.strip_prefix("t1:").map(str::to_owned).ok_or(InvalidToken)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cut_page_keeps_limit_rows_and_points_after_the_last_kept() {
        let cursor = |n: &i64| ProjectCursor {
            creation_micros: *n,
            name: format!("p{n}"),
        };
        let mut rows = vec![1, 2, 3];
        let token = cut_page(&mut rows, 2, ProjectSort::CreationTime, false, cursor).unwrap();
        assert_eq!(rows, vec![1, 2]);
        let after = decode_project_token(&token, ProjectSort::CreationTime, false).unwrap();
        assert_eq!(after, cursor(&2));

        let mut last_page = vec![1, 2];
        assert_eq!(
            cut_page(&mut last_page, 2, ProjectSort::Name, true, cursor),
            None
        );
        assert_eq!(last_page, vec![1, 2]);
    }

    #[test]
    fn project_tokens_round_trip_and_are_bound_to_their_order() {
        let cursor = ProjectCursor {
            creation_micros: 1_700_000_000_123_456,
            name: "proj-7".into(),
        };
        let tok = encode_project_token(ProjectSort::CreationTime, true, &cursor);
        assert_eq!(
            decode_project_token(&tok, ProjectSort::CreationTime, true),
            Ok(cursor.clone())
        );
        assert_eq!(
            decode_project_token(&tok, ProjectSort::Name, true),
            Err(InvalidToken)
        );
        assert_eq!(
            decode_project_token(&tok, ProjectSort::CreationTime, false),
            Err(InvalidToken)
        );
        assert_eq!(
            decode_project_token("garbage!", ProjectSort::Name, false),
            Err(InvalidToken)
        );
        assert_eq!(
            decode_project_token("", ProjectSort::Name, false),
            Err(InvalidToken)
        );
    }

    #[test]
    fn tag_tokens_round_trip() {
        let t = encode_tag_token("team:ml");
        assert_eq!(decode_tag_token(&t), Ok("team:ml".to_string()));
        assert_eq!(decode_tag_token("bm9wZQ"), Err(InvalidToken));
    }
}
