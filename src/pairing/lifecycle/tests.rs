//! Table tests for the lifecycle rules (to come).
