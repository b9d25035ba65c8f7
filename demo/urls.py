from django.urls import path

from demo import views

app_name = "demo"
urlpatterns = [
    path("payroll/employees/", views.payroll_employees, name="payroll_employees"),
]
