//! The five paginated operations of the API, each with its filters.

use crate::{Operation, Page, PaginationConfig, PaginationError, Paginator};
use aws_sdk_gameliftstreams::types::{
    ApplicationSummary, ExportFilesStatus, StreamGroupSummary, StreamSessionStatus, StreamSessionSummary,
    StreamUrlStatus, StreamUrlSummary,
};
use aws_sdk_gameliftstreams::Client;

macro_rules! paginate_fn {
    () => {
        /// A paginator over this listing with `config`.
        ///
        /// ```no_run
        /// # use gameliftstreams_paginate::*;
        /// # async fn f(client: &aws_sdk_gameliftstreams::Client) -> Result<(), PaginationError> {
        /// let first_ten = list_applications(client)
        ///     .paginate(PaginationConfig { max_items: Some(10), ..Default::default() })
        ///     .build_full_result()
        ///     .await?;
        /// # Ok(()) }
        /// ```
        pub fn paginate(self, config: PaginationConfig) -> Paginator<Self> {
            Paginator::new(self, config)
        }
    };
}

/// ListApplications.
///
/// ```no_run
/// # async fn f(client: &aws_sdk_gameliftstreams::Client) {
/// let apps = gameliftstreams_paginate::list_applications(client);
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct ListApplications {
    client: Client,
}

/// Paginate ListApplications.
///
/// ```no_run
/// # async fn f(client: &aws_sdk_gameliftstreams::Client) {
/// let p = gameliftstreams_paginate::list_applications(client).paginate(Default::default());
/// # }
/// ```
pub fn list_applications(client: &Client) -> ListApplications {
    ListApplications { client: client.clone() }
}

impl ListApplications {
    paginate_fn!();
}

impl Operation for ListApplications {
    type Item = ApplicationSummary;
    async fn fetch(
        &self,
        next_token: Option<String>,
        page_size: Option<i32>,
    ) -> Result<Page<Self::Item>, PaginationError> {
        let out = self
            .client
            .list_applications()
            .set_next_token(next_token)
            .set_max_results(page_size)
            .send()
            .await?;
        Ok(Page {
            items: out.items.unwrap_or_default(),
            next_token: out.next_token,
        })
    }
}

/// ListStreamGroups.
///
/// ```no_run
/// # async fn f(client: &aws_sdk_gameliftstreams::Client) {
/// let groups = gameliftstreams_paginate::list_stream_groups(client);
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct ListStreamGroups {
    client: Client,
}

/// Paginate ListStreamGroups.
///
/// ```no_run
/// # async fn f(client: &aws_sdk_gameliftstreams::Client) {
/// let p = gameliftstreams_paginate::list_stream_groups(client).paginate(Default::default());
/// # }
/// ```
pub fn list_stream_groups(client: &Client) -> ListStreamGroups {
    ListStreamGroups { client: client.clone() }
}

impl ListStreamGroups {
    paginate_fn!();
}

impl Operation for ListStreamGroups {
    type Item = StreamGroupSummary;
    async fn fetch(
        &self,
        next_token: Option<String>,
        page_size: Option<i32>,
    ) -> Result<Page<Self::Item>, PaginationError> {
        let out = self
            .client
            .list_stream_groups()
            .set_next_token(next_token)
            .set_max_results(page_size)
            .send()
            .await?;
        Ok(Page {
            items: out.items.unwrap_or_default(),
            next_token: out.next_token,
        })
    }
}

/// ListStreamSessions of one stream group, with its `Status` and `ExportFilesStatus` filters.
///
/// ```no_run
/// # async fn f(client: &aws_sdk_gameliftstreams::Client) {
/// use aws_sdk_gameliftstreams::types::StreamSessionStatus;
/// let active = gameliftstreams_paginate::list_stream_sessions(client, "sg-1AB2C3De4").status(StreamSessionStatus::Active);
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct ListStreamSessions {
    client: Client,
    identifier: String,
    status: Option<StreamSessionStatus>,
    export_files_status: Option<ExportFilesStatus>,
}

/// Paginate ListStreamSessions of the stream group `identifier` (ID or ARN).
///
/// ```no_run
/// # async fn f(client: &aws_sdk_gameliftstreams::Client) {
/// let p = gameliftstreams_paginate::list_stream_sessions(client, "sg-1AB2C3De4").paginate(Default::default());
/// # }
/// ```
pub fn list_stream_sessions(client: &Client, identifier: impl Into<String>) -> ListStreamSessions {
    ListStreamSessions {
        client: client.clone(),
        identifier: identifier.into(),
        status: None,
        export_files_status: None,
    }
}

impl ListStreamSessions {
    /// Only sessions in this status.
    ///
    /// ```no_run
    /// # async fn f(client: &aws_sdk_gameliftstreams::Client) {
    /// use aws_sdk_gameliftstreams::types::StreamSessionStatus;
    /// let q = gameliftstreams_paginate::list_stream_sessions(client, "sg-1").status(StreamSessionStatus::Error);
    /// # }
    /// ```
    pub fn status(mut self, status: StreamSessionStatus) -> Self {
        self.status = Some(status);
        self
    }

    /// Only sessions with an export in this status.
    ///
    /// ```no_run
    /// # async fn f(client: &aws_sdk_gameliftstreams::Client) {
    /// use aws_sdk_gameliftstreams::types::ExportFilesStatus;
    /// let q = gameliftstreams_paginate::list_stream_sessions(client, "sg-1").export_files_status(ExportFilesStatus::Failed);
    /// # }
    /// ```
    pub fn export_files_status(mut self, status: ExportFilesStatus) -> Self {
        self.export_files_status = Some(status);
        self
    }

    paginate_fn!();
}

impl Operation for ListStreamSessions {
    type Item = StreamSessionSummary;
    async fn fetch(
        &self,
        next_token: Option<String>,
        page_size: Option<i32>,
    ) -> Result<Page<Self::Item>, PaginationError> {
        let out = self
            .client
            .list_stream_sessions()
            .identifier(&self.identifier)
            .set_status(self.status.clone())
            .set_export_files_status(self.export_files_status.clone())
            .set_next_token(next_token)
            .set_max_results(page_size)
            .send()
            .await?;
        Ok(Page {
            items: out.items.unwrap_or_default(),
            next_token: out.next_token,
        })
    }
}

/// ListStreamSessionsByAccount, with its `Status` and `ExportFilesStatus` filters.
///
/// ```no_run
/// # async fn f(client: &aws_sdk_gameliftstreams::Client) {
/// let all = gameliftstreams_paginate::list_stream_sessions_by_account(client);
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct ListStreamSessionsByAccount {
    client: Client,
    status: Option<StreamSessionStatus>,
    export_files_status: Option<ExportFilesStatus>,
}

/// Paginate ListStreamSessionsByAccount.
///
/// ```no_run
/// # async fn f(client: &aws_sdk_gameliftstreams::Client) {
/// let p = gameliftstreams_paginate::list_stream_sessions_by_account(client).paginate(Default::default());
/// # }
/// ```
pub fn list_stream_sessions_by_account(client: &Client) -> ListStreamSessionsByAccount {
    ListStreamSessionsByAccount {
        client: client.clone(),
        status: None,
        export_files_status: None,
    }
}

impl ListStreamSessionsByAccount {
    /// Only sessions in this status.
    ///
    /// ```no_run
    /// # async fn f(client: &aws_sdk_gameliftstreams::Client) {
    /// use aws_sdk_gameliftstreams::types::StreamSessionStatus;
    /// let q = gameliftstreams_paginate::list_stream_sessions_by_account(client).status(StreamSessionStatus::Connected);
    /// # }
    /// ```
    pub fn status(mut self, status: StreamSessionStatus) -> Self {
        self.status = Some(status);
        self
    }

    /// Only sessions with an export in this status.
    ///
    /// ```no_run
    /// # async fn f(client: &aws_sdk_gameliftstreams::Client) {
    /// use aws_sdk_gameliftstreams::types::ExportFilesStatus;
    /// let q = gameliftstreams_paginate::list_stream_sessions_by_account(client).export_files_status(ExportFilesStatus::Succeeded);
    /// # }
    /// ```
    pub fn export_files_status(mut self, status: ExportFilesStatus) -> Self {
        self.export_files_status = Some(status);
        self
    }

    paginate_fn!();
}

impl Operation for ListStreamSessionsByAccount {
    type Item = StreamSessionSummary;
    async fn fetch(
        &self,
        next_token: Option<String>,
        page_size: Option<i32>,
    ) -> Result<Page<Self::Item>, PaginationError> {
        let out = self
            .client
            .list_stream_sessions_by_account()
            .set_status(self.status.clone())
            .set_export_files_status(self.export_files_status.clone())
            .set_next_token(next_token)
            .set_max_results(page_size)
            .send()
            .await?;
        Ok(Page {
            items: out.items.unwrap_or_default(),
            next_token: out.next_token,
        })
    }
}

/// ListStreamUrls, with its `Status` and `StreamGroupIdentifier` filters.
///
/// ```no_run
/// # async fn f(client: &aws_sdk_gameliftstreams::Client) {
/// let urls = gameliftstreams_paginate::list_stream_urls(client).stream_group_identifier("sg-1AB2C3De4");
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct ListStreamUrls {
    client: Client,
    status: Option<StreamUrlStatus>,
    stream_group_identifier: Option<String>,
}

/// Paginate ListStreamUrls.
///
/// ```no_run
/// # async fn f(client: &aws_sdk_gameliftstreams::Client) {
/// let p = gameliftstreams_paginate::list_stream_urls(client).paginate(Default::default());
/// # }
/// ```
pub fn list_stream_urls(client: &Client) -> ListStreamUrls {
    ListStreamUrls {
        client: client.clone(),
        status: None,
        stream_group_identifier: None,
    }
}

impl ListStreamUrls {
    /// Only URLs in this status.
    ///
    /// ```no_run
    /// # async fn f(client: &aws_sdk_gameliftstreams::Client) {
    /// use aws_sdk_gameliftstreams::types::StreamUrlStatus;
    /// let q = gameliftstreams_paginate::list_stream_urls(client).status(StreamUrlStatus::Active);
    /// # }
    /// ```
    pub fn status(mut self, status: StreamUrlStatus) -> Self {
        self.status = Some(status);
        self
    }

    /// Only URLs of this stream group (ID or ARN).
    ///
    /// ```no_run
    /// # async fn f(client: &aws_sdk_gameliftstreams::Client) {
    /// let q = gameliftstreams_paginate::list_stream_urls(client).stream_group_identifier("sg-1AB2C3De4");
    /// # }
    /// ```
    pub fn stream_group_identifier(mut self, id: impl Into<String>) -> Self {
        self.stream_group_identifier = Some(id.into());
        self
    }

    paginate_fn!();
}

impl Operation for ListStreamUrls {
    type Item = StreamUrlSummary;
    async fn fetch(
        &self,
        next_token: Option<String>,
        page_size: Option<i32>,
    ) -> Result<Page<Self::Item>, PaginationError> {
        let out = self
            .client
            .list_stream_urls()
            .set_status(self.status.clone())
            .set_stream_group_identifier(self.stream_group_identifier.clone())
            .set_next_token(next_token)
            .set_max_results(page_size)
            .send()
            .await?;
        Ok(Page {
            items: out.items.unwrap_or_default(),
            next_token: out.next_token,
        })
    }
}
