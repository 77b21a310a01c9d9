//! Clinic isolation is enforced by PostgreSQL roles, not only by our code.

use clinicbox::db::TenantDb;

use crate::helpers::{TestDb, sqlstate};

#[tokio::test]
async fn a_clinic_transaction_cannot_read_another_clinics_schema() {
    // Arrange
    let t = TestDb::new().await;
    let a = t.create_tenant("alpha").await;
    let _b = t.create_tenant("bravo").await;

    // Act: inside alpha's transaction, read bravo's table by its qualified name.
    let mut tx = TenantDb::begin(&t.db.pool, &a.db).await.unwrap();
    let err = sqlx::query("SELECT * FROM tenant_bravo.settings")
        .fetch_all(&mut *tx)
        .await
        .unwrap_err();

    // Assert
    assert_eq!(sqlstate(&err).as_deref(), Some("42501"), "{err}");
    assert!(err.to_string().contains("permission denied"), "{err}");
}

#[tokio::test]
async fn a_clinic_transaction_reads_its_own_tables_unqualified() {
    let t = TestDb::new().await;
    let a = t.create_tenant("alpha").await;
    t.set_setting(&a, "timezone", serde_json::json!("Asia/Kathmandu"))
        .await;

    let mut tx = TenantDb::begin(&t.db.pool, &a.db).await.unwrap();
    let tz: String =
        sqlx::query_scalar("SELECT value #>> '{}' FROM settings WHERE key = 'timezone'")
            .fetch_one(&mut *tx)
            .await
            .unwrap();
    let who: String = sqlx::query_scalar("SELECT current_user::text")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();

    assert_eq!(tz, "Asia/Kathmandu");
    assert_eq!(who, a.db.role.as_str());
}

#[tokio::test]
async fn the_login_role_cannot_read_clinic_tables_outside_tenantdb() {
    let t = TestDb::new().await;
    let _a = t.create_tenant("alpha").await;

    let err = sqlx::query("SELECT * FROM tenant_alpha.settings")
        .fetch_all(&t.db.pool)
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&err).as_deref(), Some("42501"), "{err}");

    // Nor with the clinic schema on its search path.
    let mut tx = clinicbox::db::begin(&t.db.pool).await.unwrap();
    sqlx::query("SELECT set_config('search_path', 'tenant_alpha', true)")
        .execute(&mut *tx)
        .await
        .unwrap();
    let err = sqlx::query("SELECT * FROM settings")
        .fetch_all(&mut *tx)
        .await
        .unwrap_err();
    assert!(
        matches!(sqlstate(&err).as_deref(), Some("42501") | Some("42P01")),
        "{err}"
    );
}

#[tokio::test]
async fn a_clinic_role_cannot_read_the_control_plane() {
    let t = TestDb::new().await;
    let a = t.create_tenant("alpha").await;
    let mut tx = TenantDb::begin(&t.db.pool, &a.db).await.unwrap();
    let err = sqlx::query("SELECT * FROM clinicbox.tenants")
        .fetch_all(&mut *tx)
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&err).as_deref(), Some("42501"), "{err}");
}

#[tokio::test]
async fn pooled_connection_is_clean_after_a_clinic_transaction() {
    // One connection, so the next query surely reuses it.
    let t = TestDb::new().await;
    let a = t.create_tenant("alpha").await;
    let pool = clinicbox::db::pool_options(1)
        .connect(&t.url)
        .await
        .unwrap();
    let baseline: (String, String) =
        sqlx::query_as("SELECT current_user::text, current_setting('search_path')")
            .fetch_one(&pool)
            .await
            .unwrap();

    for ending in ["commit", "rollback", "drop", "error"] {
        let mut tx = TenantDb::begin(&pool, &a.db).await.unwrap();
        let inside: String = sqlx::query_scalar("SELECT current_user::text")
            .fetch_one(&mut *tx)
            .await
            .unwrap();
        assert_eq!(inside, a.db.role.as_str());
        match ending {
            "commit" => tx.commit().await.unwrap(),
            "rollback" => tx.rollback().await.unwrap(),
            "error" => {
                let _ = sqlx::query("SELECT 1/0").execute(&mut *tx).await;
                drop(tx);
            }
            _ => drop(tx),
        }
        let after: (String, String) =
            sqlx::query_as("SELECT current_user::text, current_setting('search_path')")
                .fetch_one(&pool)
                .await
                .unwrap();
        assert_eq!(after, baseline, "after {ending}");
        assert_eq!(after.0, t.db.login_role.as_str());
    }
}

#[tokio::test]
async fn clinic_roles_cannot_log_in_and_are_not_inherited() {
    let t = TestDb::new().await;
    let a = t.create_tenant("alpha").await;
    let (login, inherit): (bool, bool) =
        sqlx::query_as("SELECT rolcanlogin, rolinherit FROM pg_roles WHERE rolname = $1")
            .bind(a.db.role.as_str())
            .fetch_one(&t.admin)
            .await
            .unwrap();
    assert!(!login);
    assert!(!inherit);
    let app_inherits: bool =
        sqlx::query_scalar("SELECT rolinherit FROM pg_roles WHERE rolname = current_user")
            .fetch_one(&t.db.pool)
            .await
            .unwrap();
    assert!(!app_inherits, "the login role must be NOINHERIT");
    let owner: String = sqlx::query_scalar(
        "SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = 'tenant_alpha'",
    )
    .fetch_one(&t.admin)
    .await
    .unwrap();
    assert_eq!(owner, a.db.role.as_str());
}
