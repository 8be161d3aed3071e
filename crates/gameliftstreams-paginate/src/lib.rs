//! boto3-style paginators for the official [`aws_sdk_gameliftstreams`] client.
//!
//! The SDK's own `into_paginator()` knows a page size only. These paginators add what boto3's
//! `paginate(PaginationConfig={"MaxItems", "PageSize", "StartingToken"})` has: stop after
//! `max_items` items, hand back a resume token, and resume from one — with tokens that are
//! byte for byte botocore's, so a listing stopped by a Python service resumes here and the other
//! way round. The page-by-page behaviour, the token contents and the errors follow botocore's
//! `PageIterator`.
//!
//! One paginator per paginated operation of the API: [`list_applications`],
//! [`list_stream_groups`], [`list_stream_sessions`], [`list_stream_sessions_by_account`] and
//! [`list_stream_urls`].
//!
//! # Example: every CONNECTED session, 50 at a time, resumable
//!
//! ```no_run
//! use aws_sdk_gameliftstreams::types::StreamSessionStatus;
//! use gameliftstreams_paginate::{list_stream_sessions_by_account, PaginationConfig};
//!
//! # async fn run(client: aws_sdk_gameliftstreams::Client, saved: Option<String>) -> Result<(), gameliftstreams_paginate::PaginationError> {
//! // Resume where a previous run (or a boto3 paginator) stopped, if it saved a token.
//! let config = PaginationConfig { max_items: Some(200), page_size: Some(50), starting_token: saved };
//! let result = list_stream_sessions_by_account(&client)
//!     .status(StreamSessionStatus::Connected)
//!     .paginate(config)
//!     .build_full_result()
//!     .await?;
//! for session in &result.items {
//!     println!("{}", session.arn().unwrap_or_default());
//! }
//! if let Some(token) = result.next_token {
//!     println!("more to come: resume with {token}");
//! }
//! # Ok(()) }
//! ```

mod operations;
mod token;

pub use operations::{
    list_applications, list_stream_groups, list_stream_sessions, list_stream_sessions_by_account, list_stream_urls,
    ListApplications, ListStreamGroups, ListStreamSessions, ListStreamSessionsByAccount, ListStreamUrls,
};
pub use token::{encode_resume_token, parse_starting_token, ResumePoint};

use futures_util::stream::{self, Stream, StreamExt};
use std::fmt;
use std::future::Future;

/// boto3's `PaginationConfig`.
///
/// ```
/// use gameliftstreams_paginate::PaginationConfig;
/// let first_100 = PaginationConfig { max_items: Some(100), page_size: Some(25), ..Default::default() };
/// assert!(first_100.starting_token.is_none());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PaginationConfig {
    /// Stop after this many items in all (`MaxItems`).
    pub max_items: Option<usize>,
    /// Items per request, sent as `MaxResults` (`PageSize`).
    pub page_size: Option<i32>,
    /// Where to start: a resume token of this crate or of botocore, or a raw service token
    /// (`StartingToken`).
    pub starting_token: Option<String>,
}

/// What can go wrong while paginating.
///
/// ```
/// use gameliftstreams_paginate::{parse_starting_token, PaginationError};
/// let bad = "eyJNYXJrZXIiOiAieCJ9"; // base64 of {"Marker": "x"}
/// assert!(matches!(parse_starting_token(bad), Err(PaginationError::BadStartingToken(_))));
/// ```
#[derive(Debug)]
pub enum PaginationError {
    /// The starting token is a resume token botocore would refuse ("Bad starting token").
    BadStartingToken(String),
    /// The service answered the same NextToken twice in a row.
    DuplicateToken(String),
    /// The service call failed.
    Service(Box<aws_sdk_gameliftstreams::Error>),
}

impl fmt::Display for PaginationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PaginationError::BadStartingToken(t) => write!(f, "Bad starting token: {t}"),
            PaginationError::DuplicateToken(t) => {
                write!(f, "The same next token was received twice: {{'NextToken': '{t}'}}")
            }
            PaginationError::Service(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for PaginationError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PaginationError::Service(e) => Some(e.as_ref()),
            _ => None,
        }
    }
}

impl<E> From<E> for PaginationError
where
    aws_sdk_gameliftstreams::Error: From<E>,
{
    fn from(e: E) -> Self {
        PaginationError::Service(Box::new(aws_sdk_gameliftstreams::Error::from(e)))
    }
}

/// One page as the service returned it, after the paginator's truncation.
///
/// ```
/// use gameliftstreams_paginate::Page;
/// let page: Page<u32> = Page { items: vec![1, 2], next_token: None };
/// assert_eq!(page.items.len(), 2);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Page<T> {
    /// The items of the page (cut to `max_items` and past a starting truncation).
    pub items: Vec<T>,
    /// The service's own NextToken of this page.
    pub next_token: Option<String>,
}

/// All items of a listing, and where to resume when `max_items` stopped it early.
///
/// ```
/// use gameliftstreams_paginate::FullResult;
/// let r: FullResult<u32> = FullResult { items: vec![], next_token: None };
/// assert!(r.next_token.is_none());
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct FullResult<T> {
    /// Every item returned.
    pub items: Vec<T>,
    /// The resume token (botocore's format), present only when `max_items` stopped early.
    pub next_token: Option<String>,
}

/// A paginated operation: fetch one page at a service token with a page size.
///
/// ```
/// use gameliftstreams_paginate::{Operation, Page, PaginationError, PaginationConfig};
/// // A fake listing of 0..10, three per page, for illustration.
/// #[derive(Clone)]
/// struct Numbers;
/// impl Operation for Numbers {
///     type Item = u32;
///     async fn fetch(&self, token: Option<String>, _size: Option<i32>) -> Result<Page<u32>, PaginationError> {
///         let start: u32 = token.map(|t| t.parse().unwrap()).unwrap_or(0);
///         let end = (start + 3).min(10);
///         Ok(Page { items: (start..end).collect(), next_token: (end < 10).then(|| end.to_string()) })
///     }
/// }
/// # tokio_test_block_on(async {
/// let config = PaginationConfig { max_items: Some(4), ..Default::default() };
/// let r = gameliftstreams_paginate::Paginator::new(Numbers, config).build_full_result().await.unwrap();
/// assert_eq!(r.items, vec![0, 1, 2, 3]);
/// # });
/// # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
/// # }
/// ```
pub trait Operation: Clone + Send + Sync + 'static {
    /// What the listing holds.
    type Item: Clone + Send + 'static;
    /// Fetch the page at `next_token` (the first page for `None`).
    fn fetch(
        &self,
        next_token: Option<String>,
        page_size: Option<i32>,
    ) -> impl Future<Output = Result<Page<Self::Item>, PaginationError>> + Send;
}

/// botocore's `PageIterator` for one operation: pages on demand, `max_items` truncation,
/// resume tokens, and the duplicate-token check.
///
/// ```no_run
/// use gameliftstreams_paginate::{list_applications, PaginationConfig};
/// # async fn run(client: aws_sdk_gameliftstreams::Client) -> Result<(), gameliftstreams_paginate::PaginationError> {
/// let mut pages = list_applications(&client).paginate(PaginationConfig { max_items: Some(3), ..Default::default() });
/// while let Some(page) = pages.next_page().await {
///     println!("{} applications", page?.items.len());
/// }
/// println!("resume with {:?}", pages.resume_token());
/// # Ok(()) }
/// ```
pub struct Paginator<O: Operation> {
    op: O,
    config: PaginationConfig,
    started: bool,
    done: bool,
    current: Option<String>,
    first_truncation: usize,
    total: usize,
    previous_next: Option<String>,
    pending_error: Option<PaginationError>,
    resume: Option<String>,
}

impl<O: Operation> Paginator<O> {
    /// A paginator over `op` with `config`.
    ///
    /// ```no_run
    /// # use gameliftstreams_paginate::*;
    /// # fn f(client: &aws_sdk_gameliftstreams::Client) {
    /// let p = Paginator::new(list_stream_groups(client), PaginationConfig::default());
    /// # }
    /// ```
    pub fn new(op: O, config: PaginationConfig) -> Self {
        Paginator {
            op,
            config,
            started: false,
            done: false,
            current: None,
            first_truncation: 0,
            total: 0,
            previous_next: None,
            pending_error: None,
            resume: None,
        }
    }

    /// The resume token once `max_items` has stopped the listing (botocore's format).
    ///
    /// ```no_run
    /// # use gameliftstreams_paginate::*;
    /// # async fn f(client: &aws_sdk_gameliftstreams::Client) {
    /// let mut p = list_stream_urls(client).paginate(PaginationConfig { max_items: Some(1), ..Default::default() });
    /// let _ = p.next_page().await;
    /// let token: Option<&str> = p.resume_token();
    /// # }
    /// ```
    pub fn resume_token(&self) -> Option<&str> {
        self.resume.as_deref()
    }

    /// The next page, or `None` when the listing (or `max_items`) is exhausted.
    ///
    /// ```no_run
    /// # use gameliftstreams_paginate::*;
    /// # async fn f(client: &aws_sdk_gameliftstreams::Client) -> Result<(), PaginationError> {
    /// let mut p = list_stream_sessions_by_account(client).paginate(PaginationConfig::default());
    /// while let Some(page) = p.next_page().await {
    ///     for s in page?.items { println!("{:?}", s.status()); }
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn next_page(&mut self) -> Option<Result<Page<O::Item>, PaginationError>> {
        if let Some(e) = self.pending_error.take() {
            self.done = true;
            return Some(Err(e));
        }
        if self.done {
            return None;
        }
        let first = !self.started;
        if first {
            self.started = true;
            if let Some(t) = self.config.starting_token.clone() {
                match parse_starting_token(&t) {
                    Ok(point) => {
                        self.current = point.next_token;
                        self.first_truncation = point.truncate.unwrap_or(0);
                    }
                    Err(e) => {
                        self.done = true;
                        return Some(Err(e));
                    }
                }
            }
        }
        let mut page = match self.op.fetch(self.current.clone(), self.config.page_size).await {
            Ok(p) => p,
            Err(e) => {
                self.done = true;
                return Some(Err(e));
            }
        };
        let starting_truncation = if first {
            let skip = self.first_truncation.min(page.items.len());
            page.items.drain(..skip);
            self.first_truncation
        } else {
            0
        };
        let n = page.items.len();
        if let Some(max) = self.config.max_items {
            if self.total + n > max {
                let keep = max - self.total;
                page.items.truncate(keep);
                self.resume = Some(encode_resume_token(&ResumePoint {
                    next_token: self.current.clone(),
                    truncate: Some(keep + starting_truncation),
                }));
                self.done = true;
                return Some(Ok(page));
            }
        }
        self.total += n;
        let Some(next) = page.next_token.clone() else {
            self.done = true;
            return Some(Ok(page));
        };
        if self.config.max_items == Some(self.total) {
            self.resume = Some(encode_resume_token(&ResumePoint {
                next_token: Some(next),
                truncate: None,
            }));
            self.done = true;
            return Some(Ok(page));
        }
        if self.previous_next.as_deref() == Some(next.as_str()) {
            self.pending_error = Some(PaginationError::DuplicateToken(next));
            return Some(Ok(page));
        }
        self.current = Some(next.clone());
        self.previous_next = Some(next);
        Some(Ok(page))
    }

    /// Every item, plus the resume token when `max_items` stopped early (boto3's
    /// `build_full_result()`).
    ///
    /// ```no_run
    /// # use gameliftstreams_paginate::*;
    /// # async fn f(client: &aws_sdk_gameliftstreams::Client) -> Result<(), PaginationError> {
    /// let all = list_applications(client).paginate(PaginationConfig::default()).build_full_result().await?;
    /// assert!(all.next_token.is_none());
    /// # Ok(()) }
    /// ```
    pub async fn build_full_result(mut self) -> Result<FullResult<O::Item>, PaginationError> {
        let mut items = Vec::new();
        while let Some(page) = self.next_page().await {
            items.extend(page?.items);
        }
        Ok(FullResult {
            items,
            next_token: self.resume,
        })
    }

    /// The pages as an async stream.
    ///
    /// ```no_run
    /// # use gameliftstreams_paginate::*;
    /// use futures_util::StreamExt;
    /// # async fn f(client: &aws_sdk_gameliftstreams::Client) {
    /// let pages: Vec<_> = list_stream_groups(client).paginate(PaginationConfig::default()).into_pages().collect().await;
    /// # }
    /// ```
    pub fn into_pages(self) -> impl Stream<Item = Result<Page<O::Item>, PaginationError>> + Send {
        stream::unfold(self, |mut p| async move { p.next_page().await.map(|r| (r, p)) })
    }

    /// The items as an async stream.
    ///
    /// ```no_run
    /// # use gameliftstreams_paginate::*;
    /// use futures_util::StreamExt;
    /// # async fn f(client: &aws_sdk_gameliftstreams::Client) {
    /// let mut items = Box::pin(list_stream_urls(client).paginate(PaginationConfig::default()).into_items());
    /// while let Some(url) = items.next().await { let _ = url; }
    /// # }
    /// ```
    pub fn into_items(self) -> impl Stream<Item = Result<O::Item, PaginationError>> + Send {
        self.into_pages().flat_map(|page| {
            let items: Vec<Result<O::Item, PaginationError>> = match page {
                Ok(p) => p.items.into_iter().map(Ok).collect(),
                Err(e) => vec![Err(e)],
            };
            stream::iter(items)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Seven items, paged by index tokens, like the fake service the SPEC's botocore
    /// measurements were taken against.
    #[derive(Clone)]
    struct Seven {
        repeat_token: bool,
    }

    impl Operation for Seven {
        type Item = u32;
        async fn fetch(&self, token: Option<String>, size: Option<i32>) -> Result<Page<u32>, PaginationError> {
            let start: u32 = token.as_deref().map(|t| t.parse().unwrap_or(0)).unwrap_or(0);
            let end = (start + size.unwrap_or(25) as u32).min(7);
            let next = (end < 7).then(|| {
                if self.repeat_token {
                    "2".to_string()
                } else {
                    end.to_string()
                }
            });
            Ok(Page {
                items: (start..end).collect(),
                next_token: next,
            })
        }
    }

    fn run(max_items: Option<usize>, page_size: Option<i32>, start: Option<&str>) -> FullResult<u32> {
        let config = PaginationConfig {
            max_items,
            page_size,
            starting_token: start.map(str::to_string),
        };
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        rt.block_on(Paginator::new(Seven { repeat_token: false }, config).build_full_result())
            .unwrap()
    }

    fn decoded(token: &str) -> String {
        String::from_utf8(aws_smithy_types::base64::decode(token).unwrap()).unwrap()
    }

    #[test]
    fn the_measured_botocore_examples() {
        let r = run(Some(3), Some(2), None);
        assert_eq!(r.items, vec![0, 1, 2]);
        let t = r.next_token.unwrap();
        assert_eq!(decoded(&t), r#"{"NextToken": "2", "boto_truncate_amount": 1}"#);
        assert_eq!(run(Some(3), Some(2), Some(&t)).items, vec![3, 4, 5]);

        let r = run(Some(4), Some(2), None);
        assert_eq!(decoded(r.next_token.as_deref().unwrap()), r#"{"NextToken": "4"}"#);

        let r = run(Some(1), None, None);
        let t = r.next_token.unwrap();
        assert_eq!(decoded(&t), r#"{"NextToken": null, "boto_truncate_amount": 1}"#);
        assert_eq!(run(None, None, Some(&t)).items, vec![1, 2, 3, 4, 5, 6]);
        // A cut inside a page reached from a truncated start counts both truncations.
        let r = run(Some(1), None, Some(&t));
        assert_eq!(r.items, vec![1]);
        assert_eq!(
            decoded(r.next_token.as_deref().unwrap()),
            r#"{"NextToken": null, "boto_truncate_amount": 2}"#
        );
        // max_items 0 still names where to resume.
        assert_eq!(
            decoded(run(Some(0), Some(2), None).next_token.as_deref().unwrap()),
            r#"{"NextToken": null, "boto_truncate_amount": 0}"#
        );
    }

    #[test]
    fn a_repeated_service_token_is_an_error_after_its_page() {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        rt.block_on(async {
            let mut p = Paginator::new(
                Seven { repeat_token: true },
                PaginationConfig {
                    page_size: Some(2),
                    ..Default::default()
                },
            );
            assert_eq!(p.next_page().await.unwrap().unwrap().items, vec![0, 1]);
            assert_eq!(p.next_page().await.unwrap().unwrap().items, vec![2, 3]);
            let e = p.next_page().await.unwrap().unwrap_err();
            assert_eq!(
                e.to_string(),
                "The same next token was received twice: {'NextToken': '2'}"
            );
            assert!(p.next_page().await.is_none());
        });
    }
}
