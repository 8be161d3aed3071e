//! The views of resources as operations answer them: list summaries, and this server's
//! addresses named as the caller reached it.

use super::signal;
use gls_model::{
    ApplicationSummary, ExportFilesMetadata, GetApplicationOutput, GetStreamGroupOutput, GetStreamSessionOutput,
    GetStreamUrlOutput, StreamGroupSummary, StreamSessionSummary, StreamUrlSummary,
};

/// The session's `DisplayConfiguration` resolution (each side at least 2), if it asked for one.
pub fn resolution(doc: &GetStreamSessionOutput) -> Option<(u32, u32)> {
    let r = doc.display_configuration.as_ref()?.resolution.as_ref()?;
    Some((r.width.max(2) as u32, r.height.max(2) as u32))
}

/// A session as read through `host`: its WebSdkProtocolUrl, and the protocol script its
/// SignalResponse names, are this server's as the caller reached it.
pub fn session_via(mut doc: GetStreamSessionOutput, host: &str) -> GetStreamSessionOutput {
    if let Some(url) = doc.web_sdk_protocol_url.as_mut() {
        *url = signal::rehost(url, host);
    }
    if let Some(answer) = doc.signal_response.as_mut() {
        *answer = signal::rehost_answer(answer, host);
    }
    doc
}

/// A stream URL as read through `host`.
pub fn url_via(mut doc: GetStreamUrlOutput, host: &str) -> GetStreamUrlOutput {
    if let Some(url) = doc.stream_url.as_mut() {
        *url = signal::rehost(url, host);
    }
    doc
}

/// The list item of a session; ListStreamSessionsByAccount shows only the export status.
pub fn session_summary(doc: GetStreamSessionOutput, full_export: bool) -> StreamSessionSummary {
    StreamSessionSummary {
        arn: doc.arn,
        user_id: doc.user_id,
        status: doc.status,
        status_reason: doc.status_reason,
        protocol: doc.protocol,
        last_updated_at: doc.last_updated_at,
        created_at: doc.created_at,
        application_arn: doc.application_arn,
        export_files_metadata: if full_export {
            doc.export_files_metadata
        } else {
            doc.export_files_metadata.map(|e| ExportFilesMetadata {
                status: e.status,
                ..Default::default()
            })
        },
        location: doc.location,
        role_arn: doc.role_arn,
    }
}

/// The list item of an application.
pub fn application_summary(a: GetApplicationOutput) -> ApplicationSummary {
    ApplicationSummary {
        arn: a.arn,
        id: a.id,
        description: a.description,
        status: a.status,
        created_at: a.created_at,
        last_updated_at: a.last_updated_at,
        runtime_environment: a.runtime_environment,
    }
}

/// The list item of a stream group.
pub fn group_summary(g: GetStreamGroupOutput) -> StreamGroupSummary {
    StreamGroupSummary {
        arn: g.arn,
        id: g.id,
        description: g.description,
        default_application: g.default_application,
        stream_class: g.stream_class,
        status: g.status,
        created_at: g.created_at,
        last_updated_at: g.last_updated_at,
        expires_at: g.expires_at,
    }
}

/// The list item of a stream URL.
pub fn url_summary(d: GetStreamUrlOutput) -> StreamUrlSummary {
    StreamUrlSummary {
        arn: d.arn,
        stream_url_id: d.stream_url_id,
        stream_url: d.stream_url,
        status: d.status,
        status_reason: d.status_reason,
        expires_at: d.expires_at,
        created_at: d.created_at,
        usage_limit: d.usage_limit,
        remaining_uses: d.remaining_uses,
        stream_group_arn: d.stream_group_arn,
        application_arn: d.application_arn,
        session_length_seconds: d.session_length_seconds,
        description: d.description,
    }
}
