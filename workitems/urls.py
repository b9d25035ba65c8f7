"""The inbox, work items and /start/ (composed into the site at the root)."""

from django.urls import path

from workitems import views

app_name = "workitems"
urlpatterns = [
    path("inbox/", views.inbox, name="inbox"),
    path("inbox/<int:pk>/", views.work_item, name="work_item"),
    path("inbox/<int:pk>/screen/", views.submit_screen, name="submit"),
    path("inbox/<int:pk>/claim/", views.claim, name="claim"),
    path("inbox/<int:pk>/release/", views.release, name="release"),
    path("inbox/<int:pk>/reassign/", views.reassign, name="reassign"),
    path(
        "runs/<int:run_id>/work-items/<int:pk>/reassign/",
        views.reassign_from_run_page,
        name="reassign_from_run",
    ),
    path("start/", views.start, name="start"),
    path("start/<slug:key>/", views.start_run, name="start_run"),
]
