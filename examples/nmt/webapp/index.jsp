<%@ page import="java.sql.*" contentType="text/plain" %><%
    /* tomcat reads the row from mysql over loopback: both share infra's
       network namespace. The MariaDB JDBC driver is WEB-INF/lib's jar; a
       web application registers such a driver itself. */
    Class.forName("org.mariadb.jdbc.Driver");
    try (Connection c = DriverManager.getConnection(
             "jdbc:mariadb://127.0.0.1:3306/nmt", "tomcat", "tomcat");
         Statement s = c.createStatement();
         ResultSet r = s.executeQuery("SELECT text FROM greeting WHERE id = 1")) {
        r.next();
        out.println("tomcat says: " + r.getString(1));
    }
%>
