DROP TABLE web_sessions;
DROP TABLE oauth_states;
DROP TABLE grants;
