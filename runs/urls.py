"""URLs of the run history dashboard, under /runs/."""

from django.urls import path

from runs import views

app_name = "runs"

urlpatterns = [
    path("", views.run_list, name="list"),
    path("charts/", views.run_charts, name="charts"),
    path("usage.csv", views.usage_csv, name="usage_csv"),
    path("<int:run_id>/", views.run_detail_page, name="detail"),
    path("<int:run_id>/progress/", views.run_progress, name="progress"),
    path("<int:run_id>/cancel/", views.cancel_run, name="cancel"),
    path("<int:run_id>/retry/", views.retry_run, name="retry"),
    path(
        "<int:run_id>/steps/<int:step_run_id>/answers/",
        views.correct_answers,
        name="correct_answers",
    ),
    path("<int:run_id>/steps/<int:step_run_id>/retry/", views.retry_step, name="retry_step"),
    path("<int:run_id>/steps/<int:step_run_id>/skip/", views.skip_step, name="skip_step"),
]
