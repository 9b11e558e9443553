"""In-app notifications for a business, with an email copy through the job queue."""
