//! The admin password's hash (in `kv`) and API tokens (`api_tokens`, only
//! their SHA-256 kept). Checking a password or a token is
//! `crate::http::auth`'s; this file only stores them.

use serde::Serialize;

use super::{Store, StoreError};

const PASSWORD_KEY: &str = "admin_password_hash";

/// An API token as listed (never the token itself).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TokenRow {
    pub id: i64,
    pub name: String,
    /// Unix seconds.
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

impl Store {
    /// The stored admin password hash (`streamforge set-password`).
    pub async fn admin_password_hash(&self) -> Result<Option<String>, StoreError> {
        self.get_kv(PASSWORD_KEY).await
    }

    pub async fn set_admin_password_hash(&self, hash: &str) -> Result<(), StoreError> {
        self.set_kv(PASSWORD_KEY, hash).await
    }

    pub async fn add_api_token(&self, name: &str, sha256: &str) -> Result<TokenRow, StoreError> {
        let now = chrono::Utc::now().timestamp();
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO api_tokens (name, token_sha256, created_at) VALUES (?, ?, ?) RETURNING id",
        )
        .bind(name)
        .bind(sha256)
        .bind(now)
        .fetch_one(self.pool())
        .await?;
        Ok(TokenRow {
            id,
            name: name.to_string(),
            created_at: now,
            last_used_at: None,
        })
    }

    /// The token's id when `sha256` is a live token; stamps its last use
    /// (at most once a minute, so scripts polling do not write every call).
    pub async fn use_api_token(&self, sha256: &str) -> Result<Option<i64>, StoreError> {
        let now = chrono::Utc::now().timestamp();
        let row: Option<(i64, Option<i64>)> =
            sqlx::query_as("SELECT id, last_used_at FROM api_tokens WHERE token_sha256 = ?")
                .bind(sha256)
                .fetch_optional(self.pool())
                .await?;
        let Some((id, last)) = row else {
            return Ok(None);
        };
        if last.is_none_or(|t| now - t >= 60) {
            sqlx::query("UPDATE api_tokens SET last_used_at = ? WHERE id = ?")
                .bind(now)
                .bind(id)
                .execute(self.pool())
                .await?;
        }
        Ok(Some(id))
    }

    pub async fn api_tokens(&self) -> Result<Vec<TokenRow>, StoreError> {
        let rows: Vec<(i64, String, i64, Option<i64>)> =
            sqlx::query_as("SELECT id, name, created_at, last_used_at FROM api_tokens ORDER BY id")
                .fetch_all(self.pool())
                .await?;
        Ok(rows
            .into_iter()
            .map(|(id, name, created_at, last_used_at)| TokenRow {
                id,
                name,
                created_at,
                last_used_at,
            })
            .collect())
    }

    /// Whether a token with this id existed.
    pub async fn delete_api_token(&self, id: i64) -> Result<bool, StoreError> {
        let r = sqlx::query("DELETE FROM api_tokens WHERE id = ?")
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(r.rows_affected() > 0)
    }
}
