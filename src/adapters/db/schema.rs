//! Table definitions, kept by hand in step with `migrations/` (both backends share them).

diesel::table! {
    task_counters (owner) {
        owner -> Text,
        last_number -> Integer,
    }
}

diesel::table! {
    tasks (id) {
        id -> BigInt,
        owner -> Text,
        number -> Integer,
        title -> Text,
        done -> SmallInt,
        created_at -> BigInt,
        done_at -> Nullable<BigInt>,
        meeting_id -> Nullable<Text>,
        meeting_link -> Nullable<Text>,
        meeting_start -> Nullable<BigInt>,
        deleted_at -> Nullable<BigInt>,
        due_at -> Nullable<BigInt>,
        due_has_time -> SmallInt,
        remind_at -> Nullable<BigInt>,
        meeting_cancelled -> SmallInt,
        meeting_end -> Nullable<BigInt>,
        meeting_title -> Nullable<Text>,
    }
}

diesel::table! {
    inbox (id) {
        id -> BigInt,
        resource -> Text,
        event -> Text,
        data_id -> Text,
        order_key -> Text,
        payload -> Text,
        state -> Text,
        attempts -> Integer,
        available_at -> BigInt,
        lease_owner -> Nullable<Text>,
        lease_until -> Nullable<BigInt>,
        last_error -> Nullable<Text>,
        received_at -> BigInt,
        settled_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    task_effects (effect_key) {
        effect_key -> Text,
        outcome -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    grants (person_id) {
        person_id -> Text,
        display_name -> Text,
        email -> Nullable<Text>,
        timezone -> Nullable<Text>,
        access_token -> Text,
        access_expires_at -> BigInt,
        refresh_token -> Text,
        refresh_expires_at -> BigInt,
        scope -> Nullable<Text>,
        webhook_id -> Nullable<Text>,
        disconnected -> Nullable<Text>,
        version -> BigInt,
        refresh_owner -> Nullable<Text>,
        refresh_until -> Nullable<BigInt>,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    oauth_states (state_hash) {
        state_hash -> Text,
        browser -> Text,
        expires_at -> BigInt,
    }
}

diesel::table! {
    web_sessions (token_hash) {
        token_hash -> Text,
        person_id -> Text,
        csrf -> Text,
        expires_at -> BigInt,
    }
}

diesel::table! {
    task_history (owner, seq) {
        owner -> Text,
        seq -> BigInt,
        kind -> Text,
        number -> Integer,
        before_title -> Nullable<Text>,
        created_at -> BigInt,
        before_due_at -> Nullable<BigInt>,
        before_due_has_time -> Nullable<SmallInt>,
        before_remind_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    person_settings (person_id) {
        person_id -> Text,
        timezone -> Nullable<Text>,
        zone_hint_shown -> SmallInt,
        updated_at -> BigInt,
        remind_lead_mins -> Nullable<Integer>,
    }
}

diesel::table! {
    scheduled_jobs (owner, kind, subject) {
        owner -> Text,
        kind -> Text,
        subject -> Text,
        fire_at -> BigInt,
        rule -> Nullable<Text>,
        created_at -> BigInt,
    }
}

diesel::table! {
    calendar_feeds (person_id) {
        person_id -> Text,
        token_hash -> Text,
        token_sealed -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    leases (name) {
        name -> Text,
        holder -> Text,
        expires_at -> BigInt,
    }
}

diesel::table! {
    meeting_polls (owner, meeting_id) {
        owner -> Text,
        meeting_id -> Text,
        fingerprint -> Text,
        starts_at -> BigInt,
    }
}

diesel::table! {
    meeting_poll_owners (owner) {
        owner -> Text,
        polled_at -> BigInt,
    }
}

diesel::table! {
    roles (email) {
        email -> Text,
        role -> Text,
        granted_by -> Text,
        granted_at -> BigInt,
    }
}

diesel::table! {
    audit_log (id) {
        id -> BigInt,
        at -> BigInt,
        actor -> Text,
        action -> Text,
        target -> Nullable<Text>,
        outcome -> Text,
    }
}

diesel::table! {
    refusals (room_id, day) {
        room_id -> Text,
        day -> Text,
        }
}

diesel::table! {
    forget_requests (person_id) {
        person_id -> Text,
        requested_at -> BigInt,
    }
}
